import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import type { VmSpec } from "../../service/ports.ts";
import { buildQemuArgs, optValue, ramBackend } from "./args.ts";

const base: VmSpec = {
  name: "web",
  runtimeDir: "/run/volant/vms/web",
  stateDir: "/var/lib/volant/vms/web",
  kernel: "/var/cache/volant/kernel/current/vmlinux",
  initramfs: "/a/boot.cpio.gz",
  disks: [
    { id: "agent", path: "/var/lib/volant/artifacts/sha256/aa", format: "raw", readonly: true },
    {
      id: "rootfs",
      path: "/var/lib/volant/vms/web/rootfs.qcow2",
      format: "qcow2",
      readonly: false,
      backingImage: "/var/lib/volant/artifacts/sha256/bb",
    },
  ],
  cpus: 2,
  memoryMb: 256,
  cmdline: "console=ttyS0 panic=-1 reboot=t",
  machine: "microvm",
  serialLogMaxBytes: 1 << 20,
};
const opts = {
  binary: "/usr/bin/qemu-system-x86_64",
  accel: "tcg" as const,
  qmpSocket: "/run/volant/vms/web/qmp.sock",
  serialSocket: "/run/volant/vms/web/serial.sock",
  serialLog: "/run/volant/vms/web/serial.log",
};

function after(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));
}

Deno.test("microvm under TCG: base flags, kernel, initrd, cmdline, virtio-mmio disks in order", () => {
  const a = buildQemuArgs(base, opts);
  assertEquals(a[0], "/usr/bin/qemu-system-x86_64");
  assertEquals(after(a, "-M"), ["microvm,memory-backend=mem"]);
  assertEquals(after(a, "-accel"), ["tcg"]);
  assertEquals(after(a, "-cpu"), ["max"]);
  assertEquals(after(a, "-smp"), ["2"]);
  assertEquals(after(a, "-m"), ["256M"]);
  for (const f of ["-no-reboot", "-nodefaults", "-no-user-config"]) ok(a.includes(f), f);
  assertEquals(after(a, "-display"), ["none"]);
  assertEquals(after(a, "-monitor"), ["none"]);
  assertEquals(after(a, "-kernel"), [base.kernel]);
  assertEquals(after(a, "-initrd"), ["/a/boot.cpio.gz"]);
  assertEquals(after(a, "-append"), [base.cmdline]);
  assertEquals(after(a, "-drive"), [
    "id=disk0,file=/var/lib/volant/artifacts/sha256/aa,format=raw,if=none,readonly=on",
    "id=disk1,file=/var/lib/volant/vms/web/rootfs.qcow2,format=qcow2,if=none",
  ]);
  assertEquals(after(a, "-device"), [
    "virtio-blk-device,drive=disk0",
    "virtio-blk-device,drive=disk1",
    "virtio-rng-device,rng=rng0",
  ]);
  assertEquals(after(a, "-object"), [
    "memory-backend-memfd,id=mem,size=256M,share=on",
    "rng-random,id=rng0,filename=/dev/urandom",
  ]);
  assertEquals(after(a, "-serial"), ["chardev:ser0"]);
  assertEquals(after(a, "-qmp"), ["unix:/run/volant/vms/web/qmp.sock,server=on,wait=off"]);
  ok(after(a, "-chardev")[0].includes("logfile=/run/volant/vms/web/serial.log,logappend=on"));
  assertEquals(a.includes("-netdev"), false, "no network unless spec.net is set");
});

Deno.test("q35 under KVM uses virtio-pci devices and -cpu host; net gets tap and MAC", () => {
  const a = buildQemuArgs(
    { ...base, machine: "q35", net: { tap: "vtap7", mac: "02:aa:bb:cc:dd:ee" }, vsock: { cid: 9 } },
    { ...opts, accel: "kvm" },
  );
  assertEquals(after(a, "-M"), ["q35,memory-backend=mem"]);
  assertEquals(after(a, "-cpu"), ["host"]);
  assertEquals(after(a, "-netdev"), ["tap,id=net0,ifname=vtap7,script=no,downscript=no"]);
  assertEquals(after(a, "-device"), [
    "virtio-blk-pci,drive=disk0",
    "virtio-blk-pci,drive=disk1",
    "virtio-net-pci,netdev=net0,mac=02:aa:bb:cc:dd:ee",
    "virtio-rng-pci,rng=rng0",
    "vhost-vsock-pci,guest-cid=9",
  ]);
});

Deno.test("commas in paths are doubled so they cannot inject QEMU options", () => {
  assertEquals(optValue("/x,readonly=off"), "/x,,readonly=off");
  const a = buildQemuArgs(
    { ...base, disks: [{ id: "d", path: "/a,b", format: "raw", readonly: true }] },
    opts,
  );
  assertEquals(after(a, "-drive"), ["id=disk0,file=/a,,b,format=raw,if=none,readonly=on"]);
});

Deno.test("no initramfs: no -initrd", () => {
  const a = buildQemuArgs({ ...base, initramfs: undefined }, opts);
  assertEquals(a.includes("-initrd"), false);
});

Deno.test("jailed: the TAP as an inherited fd and the seccomp sandbox; neither by default", () => {
  const spec = { ...base, net: { tap: "vtap1", mac: "02:00:00:00:00:01" } };
  const plain = buildQemuArgs(spec, opts);
  ok(!plain.includes("-sandbox"));
  assertEquals(after(plain, "-netdev"), ["tap,id=net0,ifname=vtap1,script=no,downscript=no"]);
  const jailed = buildQemuArgs(spec, { ...opts, tapFd: 3, sandbox: "on,spawn=deny" });
  assertEquals(after(jailed, "-sandbox"), ["on,spawn=deny"]);
  assertEquals(after(jailed, "-netdev"), ["tap,id=net0,fd=3"]);
});

Deno.test("q35 with PCI devices: one vfio-pci device each; microvm refuses them", () => {
  const a = buildQemuArgs({ ...base, machine: "q35", pciDevices: ["0000:01:00.0"] }, opts);
  ok(after(a, "-device").includes("vfio-pci,host=0000:01:00.0"));
  let refused = false;
  try {
    buildQemuArgs({ ...base, pciDevices: ["0000:01:00.0"] }, opts);
  } catch (e) {
    refused = /q35/.test((e as Error).message);
  }
  ok(refused, "microvm has no PCI bus to plug a VFIO device into");
});

Deno.test("the agent channel: a virtio-serial port named org.volant.agent, always on PCI", () => {
  const path = "/run/volant/vms/web/agent.sock";
  const mmio = buildQemuArgs({ ...base, agentChannel: path }, opts);
  // microvm gets a PCIe bus for it: on virtio-mmio the guest would fill 1024-entry queues.
  assertEquals(after(mmio, "-M"), ["microvm,pcie=on,memory-backend=mem"]);
  ok(after(mmio, "-device").includes("virtio-serial-pci,id=vser0,max_ports=2"));
  ok(!after(mmio, "-device").some((d) => d.startsWith("virtio-serial-device")));
  ok(
    after(mmio, "-device").includes(
      "virtserialport,bus=vser0.0,chardev=agentch,name=org.volant.agent",
    ),
  );
  ok(after(mmio, "-chardev").includes(`socket,id=agentch,path=${path},server=on,wait=off`));
  const pci = buildQemuArgs({ ...base, machine: "q35", agentChannel: path }, opts);
  ok(after(pci, "-device").includes("virtio-serial-pci,id=vser0,max_ports=2"));
  assertEquals(after(buildQemuArgs(base, opts), "-chardev").length, 1, "only the serial console");
});

Deno.test("vsock mode with the agent channel: no vhost-vsock (the channel is virtio-serial)", () => {
  const a = buildQemuArgs({ ...base, vsock: { cid: 9 }, agentChannel: "/r/agent.sock" }, opts);
  ok(!after(a, "-device").some((d) => d.includes("vsock")));
  ok(
    after(buildQemuArgs({ ...base, vsock: { cid: 9 } }, opts), "-device").includes(
      "vhost-vsock-device,guest-cid=9",
    ),
  );
});

Deno.test("guest RAM: a shared memfd when booted, a snapshot's image mapped private when restored", () => {
  // Booted: shared, so the snapshot can copy it and x-ignore-shared leaves it out of the stream.
  assertEquals(ramBackend(128), "memory-backend-memfd,id=mem,size=128M,share=on");
  // Restored: copy-on-write over the image (clones share its pages); commas in paths escaped.
  const a = buildQemuArgs(base, { ...opts, ramImage: "/var/lib/v,x/snap/vmm/guest-ram.bin" });
  assertEquals(
    after(a, "-object")[0],
    [
      "memory-backend-file,id=mem,size=256M,",
      "mem-path=/var/lib/v,,x/snap/vmm/guest-ram.bin,share=off",
    ].join(""),
  );
  assertEquals(after(a, "-M"), ["microvm,memory-backend=mem"]);
  // -m still says the size: QEMU refuses a backend whose size differs from it.
  assertEquals(after(a, "-m"), ["256M"]);
});
