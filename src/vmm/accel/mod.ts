/**
 * Which accelerator QEMU boots guests with, chosen by trying it: a KVM device
 * check, then a bounded boot of the guest kernel under KVM (at most 3 s, even
 * when the guest hangs), cached on disk by kernel/QEMU/KVM-device identity.
 *
 * @example
 * ```ts
 * import { accelResolverFor } from "./mod.ts";
 * const accel = accelResolverFor({
 *   accel: "auto",
 *   kernel: "/var/cache/volant/kernel/current/vmlinux",
 *   machine: "microvm",
 *   cacheDir: "/var/cache/volant",
 * });
 * const d = await accel.decision();
 * console.log(d.accel, d.reason); // "tcg" "kvm unusable: cannot open /dev/kvm read-write (...); using tcg"
 * ```
 *
 * @module
 */
export { type AccelConfig, accelResolverFor, hostAccel } from "./from_config.ts";
export {
  ACCEL_MODES,
  type AccelDecision,
  type AccelMode,
  AccelResolver,
  type AccelResolverOptions,
  decideAccel,
} from "./resolver.ts";
export { type KvmProbeOptions, type KvmProbeResult, probeKvm } from "./probe.ts";
export { BOOT_MILESTONE, type BootTryResult, PROBE_CMDLINE, tryGuestBoot } from "./boot_try.ts";
export { checkKvmDevice } from "./kvm_device.ts";
