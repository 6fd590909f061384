/**
 * The unpacker against umoci: images built by GNU tar + umoci (several layers
 * with whiteouts, an opaque directory, hard links, symlinks, setuid/setgid,
 * sticky, owners, a device node, a FIFO, an xattr, a file replaced by a
 * directory and back) are unpacked by `umoci unpack` and by us, and the trees
 * compared file by file. The same image re-compressed with zstd (skopeo) and
 * saved as a docker archive (skopeo) gives the same tree. Bad layers (`..`,
 * a path through a symlink, a corrupted blob) fail with one line.
 *
 * Needs root and `apt-get install -y umoci skopeo attr`. About 15 s.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { VolantError } from "../../errors.ts";
import { makeFeatureImage, sh } from "./_testing.ts";
import { unpackImage } from "./build.ts";
import { openArchive, openLayout } from "./layout_source.ts";
import type { ArchiveReference, LayoutReference } from "./reference.ts";
import { parseReference } from "./reference.ts";
import { describeTree, diffTrees } from "./tree_compare.ts";

function layout(image: string) {
  return openLayout(parseReference(`oci:${image}`) as LayoutReference);
}

async function ours(dir: string, name: string, image: ReturnType<typeof layout>) {
  const tree = join(dir, `tree-${name}`);
  Deno.mkdirSync(tree);
  const { stats } = await unpackImage(image, tree);
  return { tree, stats };
}

/** Adds a layer written by Python's tarfile (GNU tar refuses to write these names). */
async function evilLayer(dir: string, image: string, members: string): Promise<void> {
  const tar = join(dir, `evil-${crypto.randomUUID()}.tar`);
  await sh("python3", [
    "-c",
    `import tarfile, io
t = tarfile.open(${JSON.stringify(tar)}, "w", format=tarfile.PAX_FORMAT)
for kind, name, extra in ${members}:
    i = tarfile.TarInfo(name)
    if kind == "sym":
        i.type = tarfile.SYMTYPE; i.linkname = extra; t.addfile(i)
    elif kind == "dir":
        i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)
    else:
        data = extra.encode(); i.size = len(data); t.addfile(i, io.BytesIO(data))
t.close()`,
  ]);
  await sh("umoci", ["raw", "add-layer", "--image", image, tar]);
}

Deno.test("unpack: our tree equals umoci unpack's, file by file (gzip, zstd, docker-archive)", async () => {
  if (Deno.uid() !== 0) throw new Error("this test needs root (owners, device nodes)");
  const dir = Deno.makeTempDirSync({ prefix: "oci-unpack-" });
  try {
    const image = await makeFeatureImage(dir);
    await sh("umoci", ["unpack", "--image", image, join(dir, "bundle")]);
    const reference = await describeTree(join(dir, "bundle", "rootfs"));

    const gz = await ours(dir, "gzip", layout(image));
    assert.deepEqual(diffTrees(reference, await describeTree(gz.tree)), []);
    assert.equal(gz.stats.whiteouts, 1);
    assert.equal(gz.stats.opaques, 1);
    assert.equal(gz.stats.hardlinks, 2);
    // Spot checks, so an empty comparison cannot pass silently.
    const listing = await describeTree(gz.tree);
    assert.match(listing.get("/usr/bin/tool-hard")!, /^file 4755 0:0/);
    assert.match(
      listing.get("/usr/bin/tool")!,
      /^file 2755 .* links \/usr\/bin\/tool,\/usr\/bin\/tool-v2-hard$/,
    );
    assert.match(listing.get("/tmp")!, /^dir 1777/);
    assert.match(listing.get("/home/web/notes")!, /^file 640 1000:1000/);
    assert.match(listing.get("/dev/null")!, /^char 666 0:0 rdev 259/);
    assert.match(listing.get("/dev/fifo")!, /^fifo 600/);
    assert.match(listing.get("/usr/share/doc/b.txt")!, /xattrs user\.volant=0x6b657074/);
    assert.equal(listing.get("/etc/tool-abs"), "symlink 777 0:0 -> /usr/bin/tool");
    assert.match(listing.get("/var/thing")!, /^file 644 0:0 13 /);
    assert.match(listing.get("/var/dir2")!, /^file 600 /);
    assert.equal(listing.has("/usr/share/doc/a.txt"), false);
    assert.equal(listing.has("/opt/data/x"), false);
    assert.equal(listing.has("/opt/data/sub"), false);
    assert.equal(listing.has("/opt/data/new"), true);

    await sh("skopeo", [
      "copy",
      "--quiet",
      "--dest-compress-format",
      "zstd",
      `oci:${image}`,
      `oci:${dir}/zstd:v1`,
    ]);
    const zstdImage = layout(`${dir}/zstd:v1`);
    assert.ok(zstdImage.layers.every((l) => l.compression === "zstd"));
    const zs = await ours(dir, "zstd", zstdImage);
    assert.deepEqual(diffTrees(reference, await describeTree(zs.tree)), []);

    await sh("skopeo", [
      "copy",
      "--quiet",
      `oci:${image}`,
      `docker-archive:${dir}/saved.tar:feature:v1`,
    ]);
    const archive = await openArchive(
      parseReference(`docker-archive:${dir}/saved.tar`) as ArchiveReference,
    );
    const da = await ours(dir, "archive", archive);
    assert.deepEqual(diffTrees(reference, await describeTree(da.tree)), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("unpack: '..' paths, paths through symlinks and corrupted blobs are refused in one line", async () => {
  if (Deno.uid() !== 0) throw new Error("this test needs root (owners, device nodes)");
  const dir = Deno.makeTempDirSync({ prefix: "oci-evil-" });
  try {
    const base = join(dir, "layout");
    await sh("umoci", ["init", "--layout", base]);
    await sh("umoci", ["new", "--image", `${base}:dotdot`]);
    await evilLayer(
      dir,
      `${base}:dotdot`,
      `[("file", "ok.txt", "fine"), ("file", "../escape.txt", "bad")]`,
    );
    const a = await ours(dir, "a", layout(`${base}:dotdot`)).catch((e) => e);
    assert.ok(a instanceof VolantError);
    assert.equal(
      a.message,
      `layer 1 ${
        layout(`${base}:dotdot`).layers[0].digest
      }: entry "../escape.txt" escapes the root ('..')`,
    );
    assert.equal(a.message.includes("\n"), false);
    assert.throws(() => Deno.statSync(join(dir, "escape.txt")), Deno.errors.NotFound);

    await sh("umoci", ["new", "--image", `${base}:through`]);
    await evilLayer(
      dir,
      `${base}:through`,
      `[("sym", "etc", "/${dir.slice(1)}/outside"), ("file", "etc/passwd", "owned")]`,
    );
    Deno.mkdirSync(join(dir, "outside"));
    const b = await ours(dir, "b", layout(`${base}:through`)).catch((e) => e);
    assert.ok(b instanceof VolantError);
    assert.match(
      b.message,
      /entry "etc\/passwd" goes through the symlink \/etc \(extraction never follows symlinks\)$/,
    );
    assert.deepEqual([...Deno.readDirSync(join(dir, "outside"))], []);

    await sh("umoci", ["new", "--image", `${base}:hardlink`]);
    await sh("python3", [
      "-c",
      `import tarfile
t = tarfile.open(${JSON.stringify(join(dir, "hl.tar"))}, "w")
i = tarfile.TarInfo("stolen"); i.type = tarfile.LNKTYPE; i.linkname = "../../etc/shadow"; t.addfile(i)
t.close()`,
    ]);
    await sh("umoci", ["raw", "add-layer", "--image", `${base}:hardlink`, join(dir, "hl.tar")]);
    const c = await ours(dir, "c", layout(`${base}:hardlink`)).catch((e) => e);
    assert.ok(c instanceof VolantError);
    assert.match(c.message, /entry "\.\.\/\.\.\/etc\/shadow" escapes the root/);

    // A layer blob whose bytes no longer match its digest.
    const image = await makeFeatureImage(join(dir, "feat"));
    const img = layout(image);
    const blob = join(dir, "feat", "layout", "blobs", "sha256", img.layers[2].digest!.slice(7));
    const bytes = Deno.readFileSync(blob);
    bytes[bytes.length - 20] ^= 0xff;
    Deno.writeFileSync(blob, bytes);
    const d = await ours(dir, "d", img).catch((e) => e);
    assert.ok(d instanceof VolantError, String(d));
    assert.equal(d.code, "checksum_mismatch");
    assert.match(
      d.message,
      /^layer 3 sha256:[0-9a-f]{64}: digest mismatch: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}$/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
