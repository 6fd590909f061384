import assert from "node:assert/strict";
import { elfInfo, staticProblem } from "./elf.ts";

Deno.test("elf: a static busybox passes, a dynamic binary names its interpreter", () => {
  // Debian's busybox-static and the dynamic coreutils `ls` (busybox-static is in scripts/apt-packages.txt).
  assert.equal(staticProblem(Deno.readFileSync("/bin/busybox")), null);
  const ls = elfInfo(Deno.readFileSync("/usr/bin/ls"));
  assert.ok(ls.elf && ls.interpreter?.startsWith("/lib64/ld-linux"), JSON.stringify(ls));
  assert.match(
    staticProblem(Deno.readFileSync("/usr/bin/ls"))!,
    /dynamically linked \(needs \/lib64/,
  );
  assert.equal(
    staticProblem(new TextEncoder().encode("#!/bin/sh\n")),
    "is not a 64-bit ELF executable",
  );
});
