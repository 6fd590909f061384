import assert from "node:assert/strict";
import { QemuDriver } from "./driver.ts";

/** A stand-in `qemu-system-x86_64` that counts its runs and answers `-machine help`. */
async function countingQemu(
  dir: string,
  machines: string,
): Promise<{ bin: string; runs: () => Promise<number> }> {
  const bin = `${dir}/qemu-system-x86_64`;
  const log = `${dir}/runs`;
  await Deno.writeTextFile(bin, `#!/bin/sh\necho run >> ${log}\nprintf '%s\\n' '${machines}'\n`, {
    mode: 0o755,
  });
  await Deno.chmod(bin, 0o755);
  const runs = async () => {
    try {
      return (await Deno.readTextFile(log)).trim().split("\n").length;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return 0;
      throw e;
    }
  };
  return { bin, runs };
}

Deno.test("available() probes QEMU once it has said yes, and re-probes after a no", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const good = await countingQemu(dir, "microvm              microvm (i386)");
    const driver = new QemuDriver({ binary: good.bin, accel: "tcg" });
    assert.deepEqual(await driver.available(), { ok: true });
    assert.deepEqual(await driver.available(), { ok: true });
    assert.equal(await good.runs(), 1, "a positive answer is kept");

    const badDir = await Deno.makeTempDir({ dir });
    const bad = await countingQemu(badDir, "pc                   Standard PC");
    const noMicrovm = new QemuDriver({ binary: bad.bin, accel: "tcg" });
    const first = await noMicrovm.available();
    assert.equal(first.ok, false);
    assert.match((first as { reason: string }).reason, /no microvm machine/);
    await noMicrovm.available();
    assert.equal(await bad.runs(), 2, "a negative answer is probed again");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
