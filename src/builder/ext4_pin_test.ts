/**
 * ext4 clock pinning on real images made by mke2fs: the superblock and inode
 * times end up at the epoch whatever the wall clock was, and e2fsck finds the
 * checksums it recomputed valid. Needs e2fsprogs (apt-get install -y e2fsprogs).
 */
import assert from "node:assert/strict";
import { crc32c, pinInodeTimes, pinSuperblock } from "./ext4_pin.ts";

async function tool(cmd: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output()
    .catch((e) => {
      throw new Error(`${cmd}: ${e.message} (apt-get install -y e2fsprogs)`);
    });
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, text };
}

function superblock(path: string): DataView {
  const bytes = Deno.readFileSync(path).subarray(1024, 2048);
  return new DataView(bytes.buffer, bytes.byteOffset, 1024);
}

Deno.test("crc32c: ext4's seeded form of the Castagnoli check value", () => {
  // The standard check value of "123456789" is 0xe3069283 after the final inversion ext4 omits.
  assert.equal((~crc32c(new TextEncoder().encode("123456789"))) >>> 0, 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0), 7), 7);
});

Deno.test("pinSuperblock and pinInodeTimes set every clock field and keep the checksums valid", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-ext4-pin-" });
  try {
    const tree = `${dir}/tree`;
    await Deno.mkdir(`${tree}/sub`, { recursive: true });
    await Deno.writeTextFile(`${tree}/sub/file`, "hello");
    const image = `${dir}/img.ext4`;
    const made = await tool("mke2fs", [
      "-q",
      "-F",
      "-t",
      "ext4",
      "-O",
      "^has_journal,metadata_csum",
      "-d",
      tree,
      image,
      "4M",
    ]);
    assert.ok(made.ok, made.text);
    const epoch = 1_000_000;
    pinSuperblock(image, epoch);
    const sb = superblock(image);
    for (const off of [0x2c, 0x30, 0x40, 0x108]) assert.equal(sb.getUint32(off, true), epoch);
    assert.equal(sb.getBigUint64(0x178, true), 0n);
    assert.ok(pinInodeTimes(image, epoch) >= 4, "root, lost+found, sub and file patched");
    const stat = await tool("debugfs", ["-R", "stat /sub/file", image]);
    assert.ok(stat.ok, stat.text);
    assert.match(stat.text, /atime: 0x000f4240/);
    assert.match(stat.text, /ctime: 0x000f4240/);
    const fsck = await tool("e2fsck", ["-fn", image]);
    assert.ok(fsck.ok, fsck.text);
    await Deno.writeFile(`${dir}/not_ext4`, new Uint8Array(4096));
    assert.throws(() => pinSuperblock(`${dir}/not_ext4`, epoch), /not ext4/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
