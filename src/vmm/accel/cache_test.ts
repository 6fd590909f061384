/**
 * The probe cache: the key follows the kernel, QEMU and KVM-device identity;
 * records round-trip; a torn file or an unwritable dir is not an error.
 * Real files in a temp dir. Under 1 s.
 */
import { deepStrictEqual as assertEquals, notDeepStrictEqual, ok } from "node:assert/strict";
import { type CachedProbe, probeKey, readCachedProbe, writeCachedProbe } from "./cache.ts";

async function tempFiles() {
  const dir = await Deno.makeTempDir({ prefix: "volant-accel-cache-" });
  const kernel = `${dir}/vmlinux`;
  const qemu = `${dir}/qemu`;
  await Deno.writeTextFile(kernel, "kernel v1");
  await Deno.writeTextFile(qemu, "qemu v1");
  return { dir, inputs: { kernel, binary: qemu, kvmDevice: `${dir}/kvm`, machine: "microvm" } };
}

Deno.test("probe key: stable for the same inputs; changes with the kernel, QEMU, device and machine", async () => {
  const { dir, inputs } = await tempFiles();
  try {
    const k = await probeKey(inputs);
    assertEquals(await probeKey(inputs), k);
    await Deno.writeTextFile(inputs.kernel, "kernel v2 (rebuilt)");
    const k2 = await probeKey(inputs);
    notDeepStrictEqual(k2, k);
    await Deno.writeTextFile(inputs.binary, "qemu v2 (upgraded)");
    const k3 = await probeKey(inputs);
    notDeepStrictEqual(k3, k2);
    await Deno.writeTextFile(inputs.kvmDevice, "a device node appeared");
    const k4 = await probeKey(inputs);
    notDeepStrictEqual(k4, k3);
    notDeepStrictEqual(await probeKey({ ...inputs, machine: "q35" }), k4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("probe cache: a record round-trips; other keys, torn files and missing dirs read as null", async () => {
  const { dir } = await tempFiles();
  try {
    const entry: CachedProbe = {
      key: "abc",
      usable: false,
      reason: "guest printed nothing in 3 s",
      probedAt: "2026-12-02T12:00:00.000Z",
      probeMs: 3004,
    };
    assertEquals(await writeCachedProbe(`${dir}/accel`, entry), null);
    assertEquals(await readCachedProbe(`${dir}/accel`, "abc"), entry);
    assertEquals(await readCachedProbe(`${dir}/accel`, "other"), null);
    await Deno.writeTextFile(`${dir}/accel/torn.json`, '{"key": "torn", "usa');
    assertEquals(await readCachedProbe(`${dir}/accel`, "torn"), null);
    assertEquals(await readCachedProbe(`${dir}/nowhere`, "abc"), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("probe cache: an unwritable place is reported, not thrown", async () => {
  const { dir, inputs } = await tempFiles();
  try {
    // A path below a regular file can never be created, even by root.
    const why = await writeCachedProbe(`${inputs.kernel}/accel`, {
      key: "k",
      usable: true,
      reason: "r",
      probedAt: "2026-12-02T12:00:00.000Z",
      probeMs: 1,
    });
    ok(why?.startsWith(`cannot write ${inputs.kernel}/accel/k.json`), String(why));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
