/**
 * A deterministic cpio "newc" writer for the boot initramfs: entries sorted by
 * path, uid/gid 0, mtime 0, inode numbers in order. Device nodes are written
 * as headers, so building needs neither root nor mknod.
 *
 * @module
 */

/** One archive member; parents must be listed explicitly as directories. */
export type CpioEntry =
  | { path: string; type: "dir"; mode?: number }
  | { path: string; type: "file"; data: Uint8Array; mode?: number }
  | { path: string; type: "symlink"; target: string }
  | { path: string; type: "char"; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** Serialises entries (sorted by path, duplicates refused) plus the trailer. */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const push = (b: Uint8Array) => {
    chunks.push(b);
    total += b.length;
  };
  const member = (
    ino: number,
    path: string,
    mode: number,
    data: Uint8Array,
    rdev: [number, number],
  ) => {
    const name = enc.encode(path + "\0");
    const header = "070701" + hex8(ino) + hex8(mode) + hex8(0) + hex8(0) +
      hex8((mode & 0o170000) === S_IFDIR ? 2 : 1) + hex8(0) + hex8(data.length) +
      hex8(0) + hex8(0) + hex8(rdev[0]) + hex8(rdev[1]) + hex8(name.length) + hex8(0);
    push(enc.encode(header));
    push(name);
    push(new Uint8Array(pad4(110 + name.length)));
    push(data);
    push(new Uint8Array(pad4(data.length)));
  };
  let ino = 1;
  let prev = "";
  for (const e of sorted) {
    const path = e.path.replace(/^\/+/, "");
    if (!path || path === prev) throw new Error(`cpio: empty or duplicate path '${e.path}'`);
    prev = path;
    switch (e.type) {
      case "dir":
        member(ino++, path, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(), [0, 0]);
        break;
      case "file":
        member(ino++, path, S_IFREG | (e.mode ?? 0o644), e.data, [0, 0]);
        break;
      case "symlink":
        member(ino++, path, S_IFLNK | 0o777, enc.encode(e.target), [0, 0]);
        break;
      case "char":
        member(ino++, path, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(), [e.major, e.minor]);
        break;
    }
  }
  member(0, "TRAILER!!!", 0, new Uint8Array(), [0, 0]);
  const out = new Uint8Array(total + pad4(total));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
