/**
 * The read-only ext4 agent image: mke2fs -d (rootless, sized to the content,
 * no journal), every inode time set with debugfs, then the superblock's clock
 * pinned (src/builder/ext4_pin.ts), so the same inputs give the same bytes.
 *
 * @module
 */
import { pinSuperblock } from "../ext4_pin.ts";
import { sha256 } from "./cache_key.ts";
import { run } from "./run.ts";
import { normaliseTree } from "./tree.ts";

/** A UUID derived from the key: same inputs, same filesystem bytes. */
export function uuidFromKey(key: string): string {
  const h = sha256(`uuid ${key}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${
    h.slice(20, 32)
  }`;
}

/** debugfs commands setting every time of the reserved inode 1, the root and `paths` to `epoch`. */
export function debugfsTimeCommands(paths: string[], epoch: number): string[] {
  return ["<1>", "/", "/lost+found", ...paths].flatMap((p) =>
    ["atime", "ctime", "mtime", "crtime"].map((f) =>
      `sif ${p.startsWith("<") ? p : `"${p}"`} ${f} ${epoch}`
    )
  );
}

/** mke2fs -d: rootless, sized to the content, no journal (read-only), then pinned times. */
export async function makeImage(
  tree: string,
  image: string,
  key: string,
  epoch: number,
): Promise<void> {
  const { bytes, paths } = await normaliseTree(tree, epoch);
  const blocks = Math.ceil((bytes * 1.08 + 16 * 1024 * 1024) / 4096);
  const uuid = uuidFromKey(key);
  await run("mke2fs", [
    "-q",
    "-F",
    "-t",
    "ext4",
    "-b",
    "4096",
    "-m",
    "0",
    "-N",
    String(paths.length + 64),
    // No journal and no resize reserve: nothing ever writes to this image.
    // sparse_super2 with no backups leaves one superblock to pin below.
    "-O",
    "^has_journal,^resize_inode,sparse_super2",
    "-L",
    "volant-agent",
    "-U",
    uuid,
    "-E",
    `root_owner=0:0,hash_seed=${uuid},nodiscard,num_backup_sb=0`,
    "-d",
    tree,
    image,
    String(blocks),
  ], { E2FSPROGS_FAKE_TIME: String(epoch), SOURCE_DATE_EPOCH: String(epoch) });
  // mke2fs 1.47.0 stamps ctime/crtime, the root and inode 1 (bad blocks) with the clock.
  const cmdFile = `${image}.debugfs`;
  await Deno.writeTextFile(cmdFile, debugfsTimeCommands(paths, epoch).join("\n") + "\n");
  await run("debugfs", ["-w", "-f", cmdFile, image]);
  await Deno.remove(cmdFile);
  pinSuperblock(image, epoch);
}
