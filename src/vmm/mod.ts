/**
 * Hypervisor drivers (the `Hypervisor` port of src/service/ports.ts) and the
 * serial helpers. Only src/daemon constructs drivers; the API uses the serial
 * helpers on the paths a `VmProcess` names.
 *
 * @example
 * ```ts
 * import { QemuDriver } from "./mod.ts";
 * const qemu = new QemuDriver({ runtimeRoot: "/run/volant/vms", stateRoot: "/var/lib/volant/vms" });
 * const extra = await qemu.extraKernelArgs(); // ["tsc_early_khz=..."] under TCG
 * const proc = await qemu.boot({ ...spec, cmdline: [spec.cmdline, ...extra].join(" ") });
 * const exit = await qemu.exited(proc); // { code, signal, requested }
 * ```
 *
 * @module
 */
export { QemuDriver, type QemuDriverOptions } from "./qemu/driver.ts";
export {
  type ChRestoreOptions,
  type ChSnapshotOptions,
  CloudHypervisorDriver,
  type CloudHypervisorDriverOptions,
} from "./cloud_hypervisor/driver.ts";
export { ChApiClient, type ChVmInfo, type ChVmState } from "./cloud_hypervisor/api_client.ts";
export type { DetachedDriverOptions } from "./detached_driver.ts";
export { overlayPath } from "./artifacts.ts";
export {
  DEFAULT_RUNTIME_ROOT,
  DEFAULT_STATE_ROOT,
  RUNTIME_FILES,
  validateVmName,
} from "./runtime_dir.ts";
export {
  capSerialLog,
  connectConsole,
  followSerialLog,
  startSerialLogCap,
  tailSerialLog,
} from "./serial.ts";
