/**
 * The root filesystem image from an unpacked tree, without loop mounts:
 * ext4 with `mke2fs -d` (read-write: kestrel mounts the rootfs through a
 * per-VM copy-on-write overlay) or erofs with `mkfs.erofs` (compressed,
 * read-only). Sized to the tree plus headroom (`size_buffer_mb`, default 64).
 *
 * Reproducible: UUID and hash seed derive from the image digest, every
 * timestamp comes from the layers (ctime/crtime and the superblock clock
 * fields are pinned to `epoch`), so one image digest gives one set of bytes.
 *
 * @module
 */
import { join } from "node:path";
import { VolantError } from "../../errors.ts";
import { digestOf } from "./digest_stream.ts";
import { pinInodeTimes, pinSuperblock } from "../ext4_pin.ts";
import type { Fixups } from "./fixups.ts";

/** The filesystem types fledge writes. */
export type FsType = "ext4" | "erofs";

/** Options for {@linkcode makeFilesystem}. */
export interface FsOptions {
  tree: string;
  output: string;
  type: FsType;
  /** Seeds the UUID / hash seed: the image digest. */
  key: string;
  /** Free space to leave, MiB (default 64). */
  headroomMb?: number;
  /** Timestamp for ctime/crtime and the superblock (default 0). */
  epoch?: number;
  /** Allocate every block of the image file up front instead of a sparse file. */
  preallocate?: boolean;
  /** Rootless unpack: owners, devices and xattrs to write into the image (ext4 only). */
  fixups?: { fixups: Fixups; dirTime: (rel: string) => number };
}

/** What the tree holds: bytes (rounded to 4 KiB blocks) and inodes. */
export interface TreeUsage {
  blocks: number;
  inodes: number;
  paths: string[];
}

/** Walks `root` without following symlinks; hard links count once. */
export function treeUsage(root: string): TreeUsage {
  const seen = new Set<number>();
  let blocks = 0, inodes = 1;
  const paths: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = join(dir, e.name);
      const r = `${rel}/${e.name}`;
      paths.push(r);
      const st = Deno.lstatSync(p);
      if ((st.nlink ?? 1) > 1 && !st.isDirectory) {
        if (seen.has(st.ino!)) continue;
        seen.add(st.ino!);
      }
      inodes++;
      if (st.isDirectory) {
        blocks += 1;
        walk(p, r);
      } else if (st.isFile || (st.isSymlink && st.size > 59)) {
        blocks += Math.ceil(st.size / 4096);
      }
    }
  };
  walk(root, "");
  return { blocks, inodes, paths };
}

/** A UUID (v4 layout) derived from `key`. */
export function uuidFromKey(key: string): string {
  const h = digestOf(new TextEncoder().encode(`volant rootfs ${key}`)).slice(7);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${
    h.slice(20, 32)
  }`;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      const pkg = cmd === "mkfs.erofs" ? "erofs-utils" : "e2fsprogs";
      throw new VolantError("unavailable", `${cmd} not found: apt-get install -y ${pkg}`, {
        cause: error,
      });
    }
    throw error;
  }
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" | ");
    throw new VolantError("internal", `${cmd} failed (exit ${out.code}): ${why}`);
  }
}

/** Writes the filesystem image; returns its size in bytes. */
export async function makeFilesystem(o: FsOptions): Promise<{ size: number; usage: TreeUsage }> {
  const usage = treeUsage(o.tree);
  const epoch = o.epoch ?? 0;
  const uuid = uuidFromKey(o.key);
  const headroom = (o.headroomMb ?? 64) * 256; // 4 KiB blocks
  const env = { E2FSPROGS_FAKE_TIME: String(epoch), SOURCE_DATE_EPOCH: String(epoch) };
  if (o.type === "erofs") {
    if (o.fixups) {
      throw new VolantError(
        "forbidden",
        "filesystem.type erofs needs root (file owners come from the tree); use ext4 or run as root",
      );
    }
    await run("mkfs.erofs", ["-zlz4hc", "-T", String(epoch), "-U", uuid, o.output, o.tree], env);
    return { size: Deno.statSync(o.output).size, usage };
  }
  const inodes = usage.inodes + 1024 + Math.ceil(usage.inodes / 10);
  // Data + inode tables (256 B each) + metadata (~3%) + a 4 MiB journal + headroom.
  const blocks = Math.ceil(usage.blocks * 1.03 + inodes / 16 + 1024 + 2048) + headroom;
  if (o.preallocate) {
    using f = Deno.openSync(o.output, { write: true, create: true, truncate: true });
    const zero = new Uint8Array(1 << 20);
    for (let left = blocks * 4096; left > 0; left -= zero.length) {
      f.writeSync(zero.subarray(0, Math.min(zero.length, left)));
    }
  }
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
    String(inodes),
    "-J",
    "size=4",
    // One superblock only (sparse_super2, no backups): the one we pin below.
    "-O",
    "sparse_super2",
    "-L",
    "volant-rootfs",
    "-U",
    uuid,
    "-E",
    `hash_seed=${uuid},nodiscard,lazy_itable_init=0,num_backup_sb=0${rootOwner(o.fixups?.fixups)}`,
    "-d",
    o.tree,
    o.output,
    String(blocks),
  ], env);
  // mke2fs 1.47.0 stamps ctime/crtime (and the root, lost+found and reserved inodes)
  // with the clock, and reading the tree moves atimes (relatime): pin them all in
  // the inode tables (mtimes stay the layers' own), then the superblock.
  if (o.fixups) await applyFixups(o.output, o.fixups.fixups, o.fixups.dirTime, env);
  pinInodeTimes(o.output, epoch);
  pinSuperblock(o.output, epoch);
  return { size: Deno.statSync(o.output).size, usage };
}

/** `,root_owner=U:G` for a rootless build (mke2fs would take the caller's ids). */
function rootOwner(f: Fixups | undefined): string {
  if (f === undefined) return "";
  const o = f.owners.get("") ?? { uid: 0, gid: 0 };
  return `,root_owner=${o.uid}:${o.gid}`;
}

/** Writes the rootless record into the image with one debugfs script. */
async function applyFixups(
  image: string,
  fixups: Fixups,
  dirTime: (rel: string) => number,
  env: Record<string, string>,
): Promise<void> {
  const tmp = Deno.makeTempDirSync({ prefix: "fledge-fixups-" });
  try {
    const script = join(tmp, "script");
    Deno.writeTextFileSync(script, fixups.script(tmp, dirTime));
    await run("debugfs", ["-w", "-f", script, image], env);
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
}
