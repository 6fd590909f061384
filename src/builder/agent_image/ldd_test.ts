import assert from "node:assert/strict";
import { parseLdd } from "./ldd.ts";

Deno.test("parseLdd: sonames with paths, the loader by basename, vdso and 'not found' skipped", () => {
  const text = [
    "\tlinux-vdso.so.1 (0x00007ffd3c1f2000)",
    "\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f0e1b9c5000)",
    "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0e1b7e4000)",
    "\tlibmissing.so.1 => not found",
    "\t/lib64/ld-linux-x86-64.so.2 (0x00007f0e1b9d5000)",
  ].join("\n");
  assert.deepEqual([...parseLdd(text)], [
    ["libdl.so.2", "/lib/x86_64-linux-gnu/libdl.so.2"],
    ["libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"],
    ["ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2"],
  ]);
});
