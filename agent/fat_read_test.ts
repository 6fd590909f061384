/** The reader against images made by dosfstools (mkfs.vfat) and mtools (mcopy), not by us. */
import assert from "node:assert/strict";
import { fatLabel, readFatRoot } from "./fat_read.ts";

async function run(cmd: string, ...args: string[]): Promise<void> {
  const o = await new Deno.Command(cmd, { args, env: { MTOOLS_SKIP_CHECK: "1" }, stderr: "piped" })
    .output();
  if (!o.success) {
    throw new Error(
      `${cmd} failed (apt-get install -y dosfstools mtools): ${new TextDecoder().decode(o.stderr)}`,
    );
  }
}

Deno.test("fat read: long names, multi-cluster files and the label, as mkfs.vfat + mcopy write them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fat-read-" });
  try {
    const img = `${dir}/seed.img`;
    await run("mkfs.vfat", "-C", "-n", "CIDATA", img, "1024");
    const big = "x".repeat(5000) + "end\n"; // several 512-byte clusters
    const files: Record<string, string> = {
      "user-data": "#cloud-config\nhostname: h\n",
      "meta-data": "instance-id: i-1\n",
      "network-config": big,
      "A.TXT": "short name\n",
    };
    for (const [name, content] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, content);
      await run("mcopy", "-i", img, `${dir}/${name}`, `::${name}`);
    }
    const bytes = await Deno.readFile(img);
    assert.equal(fatLabel(bytes), "CIDATA");
    const vol = readFatRoot(bytes);
    const got = Object.fromEntries(
      [...vol.files].map(([k, v]) => [k, new TextDecoder().decode(v)]),
    );
    assert.deepEqual(got, {
      "user-data": files["user-data"],
      "meta-data": files["meta-data"],
      "network-config": big,
      "a.txt": "short name\n",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fat read: anything else is refused", () => {
  assert.equal(fatLabel(new Uint8Array(512)), null);
  assert.throws(() => readFatRoot(new Uint8Array(1024)), /not a FAT12\/16/);
});
