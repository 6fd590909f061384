/**
 * Cloud Hypervisor's command line for one VM, per its documentation
 * (`cloud-hypervisor --help`, docs/api.md): one `--disk` occurrence per disk,
 * `--serial socket=`, `--console off`, `--vsock` only when asked.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { VmSpec } from "../../service/ports.ts";

/** Paths the spec does not carry. */
export interface ChArgsOptions {
  binary: string;
  apiSocket: string;
  serialSocket: string;
  vsockSocket: string;
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

/** Builds argv (argv[0] = binary). `spec.machine` is ignored: CH always uses virtio-pci. */
export function buildChArgs(spec: VmSpec, o: ChArgsOptions): string[] {
  const args = [
    o.binary,
    "--api-socket",
    `path=${plain(o.apiSocket, "runtimeDir")}`,
    "--cpus",
    `boot=${spec.cpus}`,
    "--memory",
    `size=${spec.memoryMb}M`,
    "--kernel",
    plain(spec.kernel, "kernel"),
  ];
  if (spec.initramfs) args.push("--initramfs", plain(spec.initramfs, "initramfs"));
  for (const [i, d] of spec.disks.entries()) {
    const parts = [
      `path=${plain(d.path, `disks[${i}].path`)}`,
      `readonly=${d.readonly ? "on" : "off"}`,
    ];
    // CH >= 51 refuses qcow2 backing files unless allowed per disk.
    if (d.backingImage) parts.push("backing_files=on");
    args.push("--disk", parts.join(","));
  }
  if (spec.net) args.push("--net", `tap=${spec.net.tap},mac=${spec.net.mac}`);
  args.push(
    "--serial",
    `socket=${plain(o.serialSocket, "runtimeDir")}`,
    "--console",
    "off",
  );
  if (spec.vsock) {
    args.push("--vsock", `cid=${spec.vsock.cid},socket=${plain(o.vsockSocket, "runtimeDir")}`);
  }
  args.push("--cmdline", spec.cmdline);
  return args;
}
