/**
 * The hand-off over a /sys/block + /dev layout built by the test (block
 * devices are plain image files here), with a seed made as volantd makes it
 * (mkfs.vfat + mcopy).
 */
import assert from "node:assert/strict";
import { handOffSeed } from "./cloud_init_seed.ts";

async function run(cmd: string, ...args: string[]): Promise<void> {
  const o = await new Deno.Command(cmd, { args, env: { MTOOLS_SKIP_CHECK: "1" }, stderr: "piped" })
    .output();
  if (!o.success) throw new Error(`${cmd} failed (apt-get install -y dosfstools mtools)`);
}

Deno.test("cloud-init seed hand-off: the CIDATA disk's documents land in the NoCloud seed dir", async () => {
  const t = await Deno.makeTempDir({ prefix: "seed-handoff-" });
  try {
    const root = `${t}/root`;
    for (const d of ["sys/vda", "sys/vdb", "dev"]) {
      await Deno.mkdir(`${t}/${d}`, { recursive: true });
    }
    await Deno.mkdir(`${root}/etc`, { recursive: true });
    await Deno.writeFile(`${t}/dev/vda`, new Uint8Array(4096)); // the agent disk: not FAT
    await Deno.writeTextFile(`${t}/sys/vda/size`, "8\n");
    await run("mkfs.vfat", "-C", "-n", "CIDATA", `${t}/dev/vdb`, "1024");
    const docs = [["user-data", "#cloud-config\n"], ["meta-data", "instance-id: i-9\n"]];
    for (const [name, content] of docs) {
      await Deno.writeTextFile(`${t}/${name}`, content);
      await run("mcopy", "-i", `${t}/dev/vdb`, `${t}/${name}`, `::${name}`);
    }
    await Deno.writeTextFile(
      `${t}/sys/vdb/size`,
      `${(await Deno.stat(`${t}/dev/vdb`)).size / 512}\n`,
    );
    const o = { root, sysBlock: `${t}/sys`, dev: `${t}/dev` };
    assert.equal(handOffSeed(o), null, "no cloud-init in the guest: nothing written");
    await Deno.mkdir(`${root}/etc/cloud`);
    assert.equal(handOffSeed(o), "vdb");
    const dir = `${root}/var/lib/cloud/seed/nocloud`;
    assert.equal(await Deno.readTextFile(`${dir}/meta-data`), "instance-id: i-9\n");
    assert.equal(await Deno.readTextFile(`${dir}/user-data`), "#cloud-config\n");
  } finally {
    await Deno.remove(t, { recursive: true });
  }
});
