/**
 * The device step against stand-ins for /dev/kvm: a path that does not exist,
 * one that cannot be opened read-write (a directory), and ones that open but
 * are not KVM (/dev/null, a regular file), plus the host's real /dev/kvm.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { checkKvmDevice, KVM_API_VERSION } from "./kvm_device.ts";

Deno.test("kvm device: a missing path is not KVM, and the reason says ENOENT", () => {
  const r = checkKvmDevice("/nonexistent/volant/kvm");
  assertEquals(r.ok, false);
  ok(!r.ok && /cannot open \/nonexistent\/volant\/kvm read-write \(ENOENT/.test(r.reason));
});

Deno.test("kvm device: a path that cannot be opened read-write is not KVM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-kvm-dir-" });
  try {
    const r = checkKvmDevice(dir);
    ok(!r.ok && r.reason.includes("EISDIR"), JSON.stringify(r));
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("kvm device: /dev/null and a regular file open read-write but are not KVM", async () => {
  const file = await Deno.makeTempFile({ prefix: "volant-kvm-file-" });
  try {
    for (const path of ["/dev/null", file]) {
      const r = checkKvmDevice(path);
      ok(
        !r.ok && r.reason === `${path}: KVM_GET_API_VERSION failed (ENOTTY: not a KVM device)`,
        JSON.stringify(r),
      );
    }
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("kvm device: the host's /dev/kvm answers API 12 exactly when it exists and opens", async () => {
  const r = checkKvmDevice("/dev/kvm");
  const exists = await Deno.stat("/dev/kvm").then(() => true, () => false);
  if (!exists) ok(!r.ok && r.reason.includes("ENOENT"), JSON.stringify(r));
  else if (r.ok) assertEquals(r.apiVersion, KVM_API_VERSION);
  else ok(/EACCES|EPERM|KVM_/.test(r.reason), r.reason);
});
