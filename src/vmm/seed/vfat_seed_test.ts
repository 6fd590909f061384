/** The seed image as cloud-init reads it: label CIDATA, the files in its root (read back with mtools). */
import assert from "node:assert/strict";
import { VfatSeedWriter } from "./vfat_seed.ts";

async function sh(cmd: string, ...args: string[]): Promise<string> {
  const o = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { MTOOLS_SKIP_CHECK: "1" },
  }).output();
  if (!o.success) throw new Error(`${cmd}: ${new TextDecoder().decode(o.stderr)}`);
  return new TextDecoder().decode(o.stdout);
}

Deno.test("vfat seed: label CIDATA, user-data and meta-data in the root, replaced atomically", async () => {
  const w = new VfatSeedWriter();
  const ok = await w.available();
  assert.deepEqual(ok, { ok: true }, "apt-get install -y dosfstools mtools");
  const dir = await Deno.makeTempDir({ prefix: "seed-" });
  try {
    const path = `${dir}/run/cidata.img`;
    await w.write(path, [
      { name: "user-data", content: "#cloud-config\nhostname: one\n" },
      { name: "meta-data", content: "instance-id: i-1\n" },
    ]);
    assert.match(await sh("mlabel", "-s", "-i", path, "::"), /Volume label is CIDATA/);
    assert.equal(await sh("mtype", "-i", path, "::user-data"), "#cloud-config\nhostname: one\n");
    assert.equal(await sh("mtype", "-i", path, "::meta-data"), "instance-id: i-1\n");
    await w.write(path, [{ name: "user-data", content: "#cloud-config\n" }, {
      name: "meta-data",
      content: "instance-id: i-1\n",
    }]);
    assert.equal(await sh("mtype", "-i", path, "::user-data"), "#cloud-config\n");
    const names = [...Deno.readDirSync(`${dir}/run`)].map((e) => e.name);
    assert.deepEqual(names, ["cidata.img"], "no temp files left");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
