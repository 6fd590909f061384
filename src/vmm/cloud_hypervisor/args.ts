/**
 * Cloud Hypervisor's command line for one VM, checked against its source
 * (cloud-hypervisor/src/main.rs and vmm/src/config.rs at v53.0; the option
 * keys are compared with upstream's lists in args_test.ts):
 *
 * - all disks after one `--disk` (repeating the flag needs v52+, where clap
 *   appends; one flag with several values works on every version);
 * - `image_type=` on every disk: without it CH auto-detects and turns
 *   `backing_files` off for qcow2 (vmm/src/device_manager.rs, v53.0 l. 2755-2782),
 *   so a rootfs overlay loses its backing file;
 * - `--event-monitor path=` and `--pvpanic`: CH reboots a guest in place
 *   (no `-no-reboot`), so the driver watches the `vm rebooting` / `guest panic`
 *   events and ends the VMM itself;
 * - `--serial socket=`, `--console off`;
 * - `--vsock` always: it carries the agent channel (kestrel listens on vsock
 *   port 1024; the daemon dials `CONNECT 1024` on the socket). CH's vsock is a
 *   userspace device whose host end is that unix socket, so the guest CID is
 *   seen only inside the guest: `spec.vsock`'s when given, else 3.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { VmSpec } from "../../service/ports.ts";
import { chVfioArgs } from "../vfio/vmm_args.ts";

/** The guest's vsock CID when the spec names none (the first one not reserved, as CH's docs use). */
export const DEFAULT_GUEST_CID = 3;

/** Paths the spec does not carry. */
export interface ChArgsOptions {
  binary: string;
  apiSocket: string;
  serialSocket: string;
  vsockSocket: string;
  eventMonitor: string;
  /** The jail: the TAP arrives as this fd (CH re-attaches it with a vnet header). */
  tapFd?: number;
  /** `--seccomp true` (CH's own filter; also its default, made explicit under the jail). */
  seccomp?: boolean;
}

/** CH splits option values on ',' and '=' cannot be escaped: refuse such paths. */
function plain(value: string, field: string): string {
  if (/[,\s"]/.test(value)) {
    throw new VolantError("invalid_input", `${field} contains ',', '"' or whitespace: ${value}`, {
      problems: [{
        field,
        message: "cloud-hypervisor option values cannot hold ',', '\"' or whitespace",
      }],
    });
  }
  return value;
}

/** The VMM-level options every start has (boot and restore). */
function vmmArgs(o: Pick<ChArgsOptions, "binary" | "apiSocket" | "eventMonitor">): string[] {
  return [
    o.binary,
    "--api-socket",
    `path=${plain(o.apiSocket, "runtimeDir")}`,
    "--event-monitor",
    `path=${plain(o.eventMonitor, "runtimeDir")}`,
  ];
}

/** Builds argv (argv[0] = binary). `spec.machine` is ignored: CH always uses virtio-pci. */
export function buildChArgs(spec: VmSpec, o: ChArgsOptions): string[] {
  const args = [
    ...vmmArgs(o),
    "--cpus",
    `boot=${spec.cpus}`,
    "--memory",
    `size=${spec.memoryMb}M`,
    "--kernel",
    plain(spec.kernel, "kernel"),
  ];
  if (spec.initramfs) args.push("--initramfs", plain(spec.initramfs, "initramfs"));
  if (spec.disks.length > 0) {
    args.push("--disk");
    for (const [i, d] of spec.disks.entries()) {
      const parts = [
        `path=${plain(d.path, `disks[${i}].path`)}`,
        `readonly=${d.readonly ? "on" : "off"}`,
        `image_type=${d.format}`,
      ];
      if (d.backingImage && d.format === "qcow2") parts.push("backing_files=on");
      args.push(parts.join(","));
    }
  }
  if (spec.net) {
    // fd= (NetConfig `fd`, docs/macvtap-bridge.md `--net fd=3,mac=..`): no CAP_NET_ADMIN needed.
    const tap = o.tapFd === undefined ? `tap=${spec.net.tap}` : `fd=${o.tapFd}`;
    args.push("--net", `${tap},mac=${spec.net.mac}`);
  }
  args.push(
    "--serial",
    `socket=${plain(o.serialSocket, "runtimeDir")}`,
    "--console",
    "off",
    "--pvpanic",
  );
  const cid = spec.vsock?.cid ?? DEFAULT_GUEST_CID;
  args.push("--vsock", `cid=${cid},socket=${plain(o.vsockSocket, "runtimeDir")}`);
  if (o.seccomp) args.push("--seccomp", "true");
  args.push(...chVfioArgs(spec.pciDevices ?? []));
  args.push("--cmdline", spec.cmdline);
  return args;
}

/**
 * argv for a restore: a VMM with no VM (only the API socket and the event
 * monitor). `vm.restore` refuses a VMM that has a VM or a VM config
 * (vmm/src/lib.rs, v53.0 l. 2338-2344), so no `--kernel` here; the VM's
 * config (disks, serial socket, TAP, vsock) comes from the snapshot.
 */
export function buildChRestoreArgs(
  o: Pick<ChArgsOptions, "binary" | "apiSocket" | "eventMonitor">,
): string[] {
  return vmmArgs(o);
}
