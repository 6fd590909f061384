import assert from "node:assert/strict";
import { VolantError } from "../../errors.ts";
import { hashFile, SnapshotFiles } from "./files.ts";

const record = (vm: string, name: string) => ({
  name,
  vm,
  plugin: "p",
  created_at: new Date().toISOString(),
  after: "running" as const,
  pause_ms: 1,
  identity: { vmm: "qemu: x", kernel: "k", initramfs: "", agent: "" },
  config_version: 1,
});

Deno.test("snapshot files: commit is atomic, checksums catch truncation, temp dirs never list", async () => {
  const root = await Deno.makeTempDir();
  try {
    const files = new SnapshotFiles(root);
    const p = await files.begin("web", "s1");
    await Deno.mkdir(`${p.dir}/vmm`);
    await Deno.writeFile(`${p.dir}/vmm/state.bin`, new Uint8Array(4096).fill(7));
    // Not committed yet: nothing lists, the name is not taken.
    assert.deepEqual(await files.list("web"), []);
    const rec = await files.commit(p, record("web", "s1"));
    assert.deepEqual(rec.files.map((f) => [f.path, f.size]), [["vmm/state.bin", 4096]]);
    assert.equal(rec.size_bytes, 4096);
    assert.deepEqual((await files.list("web")).map((s) => s.name), ["s1"]);
    await assert.rejects(
      files.begin("web", "s1"),
      (e) => e instanceof VolantError && e.code === "conflict",
    );

    await files.verify(rec);
    const f = await Deno.open(`${root}/web/s1/vmm/state.bin`, { write: true });
    await f.truncate(100);
    f.close();
    await assert.rejects(
      files.verify(rec),
      (e) =>
        e instanceof VolantError && e.code === "checksum_mismatch" &&
        /state\.bin is 100 bytes, not 4096/.test(e.message),
    );

    // A crash mid-save leaves a .tmp dir: ignored by list, gone with the VM.
    await files.begin("web", "s2");
    assert.deepEqual((await files.list("web")).map((s) => s.name), ["s1"]);
    await files.remove("web", "s1");
    await assert.rejects(
      files.get("web", "s1"),
      (e) => e instanceof VolantError && e.code === "not_found",
    );
    await files.removeAll("web");
    await assert.rejects(Deno.stat(`${root}/web`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("snapshot files: an intact file is hashed once, a file written since is hashed again", async () => {
  const root = await Deno.makeTempDir();
  try {
    // The clock runs 10 s ahead: the files look quiet (written more than 2 s ago).
    const hashed: string[] = [];
    const files = new SnapshotFiles(root, () => Date.now() + 10_000, (path) => {
      hashed.push(path.slice(path.lastIndexOf("/") + 1));
      return hashFile(path);
    });
    const p = await files.begin("web", "s1");
    await Deno.writeFile(`${p.dir}/ram.bin`, new Uint8Array(1 << 20).fill(1));
    const rec = await files.commit(p, record("web", "s1"));
    await files.verify(rec);
    await files.verify(rec);
    assert.deepEqual(hashed, ["ram.bin"], "the second verify did not read it again");
    // Same size, other bytes: its mtime and ctime moved, so it is hashed and refused.
    await Deno.writeFile(`${root}/web/s1/ram.bin`, new Uint8Array(1 << 20).fill(2));
    await assert.rejects(
      files.verify(rec),
      (e) => e instanceof VolantError && /ram\.bin is altered/.test(e.message),
    );
    assert.deepEqual(hashed, ["ram.bin", "ram.bin"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("snapshot files: prime waits until the files are quiet, then one hash serves later verifies", async () => {
  const root = await Deno.makeTempDir();
  try {
    const hashed: string[] = [];
    const files = new SnapshotFiles(root, Date.now, (path) => {
      hashed.push(path.slice(path.lastIndexOf("/") + 1));
      return hashFile(path);
    });
    const p = await files.begin("web", "s1");
    await Deno.writeFile(`${p.dir}/ram.bin`, new Uint8Array(1 << 20).fill(1));
    const rec = await files.commit(p, record("web", "s1"));
    const st = await Deno.stat(files.dir("web", "s1") + "/ram.bin");
    const changed = Math.max(st.mtime!.getTime(), st.ctime!.getTime());
    await files.prime(rec);
    // Just written, the file is quiet (its hash kept) only 2 s after its last change.
    assert.ok(Date.now() - changed > 2000, "prime returned before the file was quiet");
    await files.verify(rec);
    assert.deepEqual(hashed, ["ram.bin"], "the verify after prime read the file again");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
