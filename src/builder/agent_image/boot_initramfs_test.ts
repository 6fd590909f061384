import assert from "node:assert/strict";
import { busyboxLinkEntries } from "./boot_initramfs.ts";

Deno.test("busyboxLinkEntries: FHS applet paths become relative links to bin/busybox", () => {
  const links = busyboxLinkEntries("bin/sh\nusr/bin/env\nsbin/ip\nbin/busybox\nlinuxrc\n");
  assert.deepEqual(links, [
    { path: "bin/sh", type: "symlink", target: "../bin/busybox" },
    { path: "usr/bin/env", type: "symlink", target: "../../bin/busybox" },
    { path: "sbin/ip", type: "symlink", target: "../bin/busybox" },
  ]);
});
