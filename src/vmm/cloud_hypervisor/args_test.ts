import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { isVolantError } from "../../errors.ts";
import type { VmSpec } from "../../service/ports.ts";
import { buildChArgs } from "./args.ts";

const spec: VmSpec = {
  name: "web",
  runtimeDir: "/run/volant/vms/web",
  stateDir: "/var/lib/volant/vms/web",
  kernel: "/var/cache/volant/kernel/current/vmlinux",
  initramfs: "/var/lib/volant/artifacts/sha256/ii",
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
  memoryMb: 512,
  cmdline: "console=ttyS0 panic=-1 reboot=t volant.ip=192.168.127.10/24",
  machine: "q35",
  net: { tap: "vtap3", mac: "02:01:02:03:04:05" },
  serialLogMaxBytes: 1 << 20,
};
const o = {
  binary: "/usr/local/bin/cloud-hypervisor",
  apiSocket: "/run/volant/vms/web/api.sock",
  serialSocket: "/run/volant/vms/web/serial.sock",
  vsockSocket: "/run/volant/vms/web/vsock.sock",
};

Deno.test("CH argv: documented flags in order, one --disk per disk, net, serial socket, console off", () => {
  assertEquals(buildChArgs(spec, o), [
    "/usr/local/bin/cloud-hypervisor",
    "--api-socket",
    "path=/run/volant/vms/web/api.sock",
    "--cpus",
    "boot=2",
    "--memory",
    "size=512M",
    "--kernel",
    "/var/cache/volant/kernel/current/vmlinux",
    "--initramfs",
    "/var/lib/volant/artifacts/sha256/ii",
    "--disk",
    "path=/var/lib/volant/artifacts/sha256/aa,readonly=on",
    "--disk",
    "path=/var/lib/volant/vms/web/rootfs.qcow2,readonly=off,backing_files=on",
    "--net",
    "tap=vtap3,mac=02:01:02:03:04:05",
    "--serial",
    "socket=/run/volant/vms/web/serial.sock",
    "--console",
    "off",
    "--cmdline",
    "console=ttyS0 panic=-1 reboot=t volant.ip=192.168.127.10/24",
  ]);
});

Deno.test("CH argv: --vsock only when asked; no --net or --initramfs when absent", () => {
  const a = buildChArgs({
    ...spec,
    net: undefined,
    initramfs: undefined,
    disks: [],
    vsock: { cid: 7 },
  }, o);
  assertEquals(a.includes("--net"), false);
  assertEquals(a.includes("--initramfs"), false);
  assertEquals(a.includes("--disk"), false);
  assertEquals(a[a.indexOf("--vsock") + 1], "cid=7,socket=/run/volant/vms/web/vsock.sock");
});

Deno.test("CH argv: a comma in a path is refused naming the field", () => {
  throws(
    () =>
      buildChArgs({
        ...spec,
        disks: [{ id: "d", path: "/x,readonly=off", format: "raw", readonly: true }],
      }, o),
    (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "disks[0].path",
  );
});
