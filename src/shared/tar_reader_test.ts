/**
 * The tar reader against archives GNU tar writes (PAX with xattrs and long
 * names, GNU format long names and links), checked against `tar -tv`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type TarHeader, TarReader } from "./tar_reader.ts";

async function tar(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("tar", { args, cwd, stderr: "piped" }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

function read(bytes: Uint8Array, step: number) {
  const entries: { h: TarHeader; data: string }[] = [];
  const r = new TarReader((h) => {
    const e = { h, data: "" };
    entries.push(e);
    const dec = new TextDecoder();
    return { write: (c) => e.data += dec.decode(c, { stream: true }), end: () => {} };
  });
  for (let i = 0; i < bytes.length; i += step) r.push(bytes.subarray(i, i + step));
  r.end();
  return entries;
}

Deno.test("tar reader: PAX and GNU archives from GNU tar, any chunking", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const long = "d".repeat(120) + "/" + "f".repeat(110);
    Deno.mkdirSync(join(dir, "src", "d".repeat(120)), { recursive: true });
    Deno.writeTextFileSync(join(dir, "src", long), "long name\n");
    Deno.writeTextFileSync(join(dir, "src", "small"), "x".repeat(1000));
    Deno.symlinkSync("../".repeat(40) + "target-".repeat(20), join(dir, "src", "ln"));
    Deno.linkSync(join(dir, "src", "small"), join(dir, "src", "hard"));
    for (const format of ["pax", "gnu"]) {
      const file = join(dir, `${format}.tar`);
      await tar([
        `--format=${format}`,
        "--sort=name",
        "--owner=7",
        "--group=9",
        "-cf",
        file,
        "-C",
        join(dir, "src"),
        ".",
      ], dir);
      const bytes = Deno.readFileSync(file);
      for (const step of [1, 511, 4096, bytes.length]) {
        const entries = read(bytes, step);
        const by = new Map(entries.map((e) => [e.h.path.replace(/^\.\//, ""), e]));
        assert.equal(by.get(long)?.data, "long name\n", `${format} step ${step}`);
        // --sort=name: "hard" comes first and holds the data; "small" links to it.
        assert.equal(by.get("hard")?.h.type, "file");
        assert.equal(by.get("hard")?.data, "x".repeat(1000));
        assert.equal(by.get("hard")?.h.uid, 7);
        assert.equal(by.get("hard")?.h.gid, 9);
        assert.equal(by.get("small")?.h.type, "hardlink");
        assert.equal(by.get("small")?.h.linkname.replace(/^\.\//, ""), "hard");
        assert.equal(by.get("ln")?.h.type, "symlink");
        assert.equal(by.get("ln")?.h.linkname, "../".repeat(40) + "target-".repeat(20));
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("tar reader: a corrupted header and a truncated archive are errors", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(join(dir, "f"), "data");
    await tar(["-cf", "a.tar", "f"], dir);
    const bytes = Deno.readFileSync(join(dir, "a.tar"));
    const bad = bytes.slice();
    bad[10] ^= 1;
    assert.throws(() => read(bad, 512), /header checksum mismatch/);
    assert.throws(() => read(bytes.subarray(0, 700), 512), /truncated/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
