/**
 * The QEMU command line for one VM, as a pure function of the spec, so it is
 * unit-tested and identical for the driver and the benchmark's "by hand" run.
 *
 * @module
 */
import type { VmSpec } from "../../service/ports.ts";
import { qemuVfioArgs } from "../vfio/vmm_args.ts";
import { AGENT_PORT_NAME } from "../../manifest/cmdline.ts";

/** Paths and host choices the spec does not carry. */
export interface QemuArgsOptions {
  /** Absolute path of qemu-system-x86_64. */
  binary: string;
  accel: "kvm" | "tcg";
  qmpSocket: string;
  serialSocket: string;
  serialLog: string;
  /** Where the guest's vsock would be (vhost-vsock needs no host path; kept for symmetry). */
  vsockSocket?: string;
  /** The TAP as an fd the VMM inherits (jailed: it cannot open /dev/net/tun); else by name. */
  tapFd?: number;
  /** `-sandbox` value (QEMU's seccomp filter); none when absent. */
  sandbox?: string;
  /**
   * A snapshot's RAM image to map as guest memory (restore): mapped private
   * (copy-on-write), so clones of one snapshot share its unchanged pages
   * through the page cache. Absent: guest RAM is a shared memfd, which a
   * snapshot copies out instead of streaming it (see migration.ts).
   */
  ramImage?: string;
}

/** The id of the guest RAM backend (the migration stream names RAM blocks by it). */
export const RAM_BACKEND_ID = "mem";

/** QEMU option values double a comma to escape it. */
export function optValue(v: string): string {
  return v.replaceAll(",", ",,");
}

/**
 * `-accel` and `-cpu` for an accelerator: the one mapping every QEMU command
 * line uses (driver, probe, test helpers, baselines). KVM passes the host CPU
 * through; TCG emulates the richest model.
 */
export function accelArgs(accel: "kvm" | "tcg"): string[] {
  return ["-accel", accel, "-cpu", accel === "kvm" ? "host" : "max"];
}

/**
 * Guest RAM as a named backend: booted, a memfd shared with whoever opens
 * it (the snapshot copies it through /proc/<pid>/fd and the migration stream
 * then skips it: `x-ignore-shared`); restored, the snapshot's image mapped
 * privately (share=off). QEMU 7.2 opens the image read-write even so; only a
 * shared mapping would write to it.
 */
export function ramBackend(memoryMb: number, ramImage?: string): string {
  return ramImage === undefined
    ? `memory-backend-memfd,id=${RAM_BACKEND_ID},size=${memoryMb}M,share=on`
    : `memory-backend-file,id=${RAM_BACKEND_ID},size=${memoryMb}M,` +
      `mem-path=${optValue(ramImage)},share=off`;
}

/**
 * The machine option: q35, or microvm with a PCIe bus (`pcie=on`) when the VM
 * has the agent channel, which always sits on PCI (see below).
 */
function machineArg(spec: VmSpec): string {
  if (spec.machine === "q35") return `q35,memory-backend=${RAM_BACKEND_ID}`;
  return `microvm,${spec.agentChannel ? "pcie=on," : ""}memory-backend=${RAM_BACKEND_ID}`;
}

/** Builds argv (argv[0] = binary). Devices follow the machine: virtio-mmio or virtio-pci. */
export function buildQemuArgs(spec: VmSpec, o: QemuArgsOptions): string[] {
  const pci = spec.machine === "q35";
  const dev = (kind: "blk" | "net" | "rng") => pci ? `virtio-${kind}-pci` : `virtio-${kind}-device`;
  const args = [
    o.binary,
    "-M",
    machineArg(spec),
    ...accelArgs(o.accel),
    "-smp",
    String(spec.cpus),
    "-m",
    `${spec.memoryMb}M`,
    "-object",
    ramBackend(spec.memoryMb, o.ramImage),
    // Without -no-reboot a guest panic (panic=-1) loops reboots forever.
    "-no-reboot",
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-monitor",
    "none",
    "-kernel",
    spec.kernel,
  ];
  if (o.sandbox) args.push("-sandbox", o.sandbox);
  if (spec.initramfs) args.push("-initrd", spec.initramfs);
  args.push("-append", spec.cmdline);
  for (const [i, d] of spec.disks.entries()) {
    const drive = [
      `id=disk${i}`,
      `file=${optValue(d.path)}`,
      `format=${d.format}`,
      "if=none",
    ];
    if (d.readonly) drive.push("readonly=on");
    args.push("-drive", drive.join(","), "-device", `${dev("blk")},drive=disk${i}`);
  }
  if (spec.net) {
    args.push(
      "-netdev",
      o.tapFd === undefined
        ? `tap,id=net0,ifname=${spec.net.tap},script=no,downscript=no`
        : `tap,id=net0,fd=${o.tapFd}`,
      "-device",
      `${dev("net")},netdev=net0,mac=${spec.net.mac}`,
    );
  }
  // An entropy source: without one, the guest's first getrandom() (Deno at start) can stall
  // until the kernel's pool is seeded, which under TCG takes seconds.
  args.push(
    "-object",
    "rng-random,id=rng0,filename=/dev/urandom",
    "-device",
    `${dev("rng")},rng=rng0`,
  );
  // vhost-vsock needs the host's vhost_vsock module; on QEMU the agent channel is virtio-serial,
  // so a vsock-mode VM gets no vsock device when it has the channel.
  if (spec.vsock && !spec.agentChannel) {
    args.push(
      "-device",
      `${pci ? "vhost-vsock-pci" : "vhost-vsock-device"},guest-cid=${spec.vsock.cid}`,
    );
  }
  if (spec.agentChannel) {
    // The agent channel: one virtio-serial port kestrel finds by name; QEMU listens, the daemon
    // dials (wait=off: the guest boots without it). The guest's virtio_console fills every
    // receive queue (the port's, the control queue's) with 4 KiB buffers, one per ring entry.
    // On virtio-mmio QEMU offers 1024 entries per queue (8.6 MiB of guest slab for the
    // channel); on PCI the device's own 128 (0.9 MiB with the bus), so the port is always on
    // PCI: microvm gets `pcie=on` for it. max_ports=2: port 0 is reserved, ours is 1.
    args.push(
      "-device",
      "virtio-serial-pci,id=vser0,max_ports=2",
      "-chardev",
      `socket,id=agentch,path=${optValue(spec.agentChannel)},server=on,wait=off`,
      "-device",
      `virtserialport,bus=vser0.0,chardev=agentch,name=${AGENT_PORT_NAME}`,
    );
  }
  args.push(...qemuVfioArgs(spec.pciDevices ?? [], spec.machine));
  args.push(
    "-chardev",
    // logappend=on opens the log O_APPEND, so trimming it in place is safe while QEMU writes.
    `socket,id=ser0,path=${optValue(o.serialSocket)},server=on,wait=off,` +
      `logfile=${optValue(o.serialLog)},logappend=on`,
    "-serial",
    "chardev:ser0",
    "-qmp",
    `unix:${optValue(o.qmpSocket)},server=on,wait=off`,
  );
  return args;
}
