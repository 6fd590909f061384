/**
 * A deterministic SVR4 "newc" (070701) cpio writer, the format the Linux
 * initramfs unpacker reads. Everything that made the Go fledge's archives differ
 * between builds is fixed here: entries sorted by name, names without "./",
 * one mtime for all (SOURCE_DATE_EPOCH or 0), uid/gid 0, device numbers 0,
 * inodes numbered 1, 2, 3... in archive order. Hardlinks share an inode and
 * nlink and carry their data once, on the last link (GNU cpio's convention,
 * which both the kernel and `cpio -i` follow); symlinks store their target.
 *
 * @module
 */
import { VolantError } from "../errors.ts";

/** One entry to archive. `path` is the guest path: "/bin/sh", "bin/sh" or "/" for the root. */
export type CpioInput =
  | { type: "dir"; path: string; mode: number }
  | {
    type: "file";
    path: string;
    mode: number;
    data: Uint8Array;
    /** Entries with the same key are hardlinks of one inode (same mode and data). */
    link?: string;
  }
  | { type: "symlink"; path: string; target: string }
  | { type: "char" | "block"; path: string; mode: number; major: number; minor: number };

/** Options for {@linkcode encodeCpio}. */
export interface CpioOptions {
  /** Seconds since the epoch for every entry (default 0). */
  mtime?: number;
}

const S_IFMT = {
  dir: 0o040000,
  file: 0o100000,
  symlink: 0o120000,
  char: 0o020000,
  block: 0o060000,
} as const;

const MAGIC = "070701";
const HEADER_SIZE = 110;
const TRAILER = "TRAILER!!!";
const encoder = new TextEncoder();

interface Planned {
  name: Uint8Array;
  mode: number;
  ino: number;
  nlink: number;
  data: Uint8Array;
  rdevMajor: number;
  rdevMinor: number;
}

/** The archive name of a guest path: no leading "/" or "./"; the root is ".". */
export function archiveName(path: string): string {
  const trimmed = path.replace(/^\.?\/+/, "").replace(/\/+$/, "");
  return trimmed === "" || trimmed === "." ? "." : trimmed;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Sorts, numbers inodes and resolves hardlinks; the root "." comes first. */
function plan(entries: readonly CpioInput[]): Planned[] {
  const named = entries.map((e) => ({ e, name: encoder.encode(archiveName(e.path)) }));
  named.sort((x, y) => {
    const xr = x.name.length === 1 && x.name[0] === 0x2e;
    const yr = y.name.length === 1 && y.name[0] === 0x2e;
    if (xr !== yr) return xr ? -1 : 1;
    return compareBytes(x.name, y.name);
  });
  const groups = new Map<string, { ino: number; members: number[] }>();
  const out: Planned[] = [];
  let nextIno = 1;
  let previous: Uint8Array | null = null;
  for (const { e, name } of named) {
    if (previous !== null && compareBytes(previous, name) === 0) {
      throw new VolantError(
        "internal",
        `cpio: duplicate entry ${new TextDecoder().decode(name)}`,
      );
    }
    previous = name;
    let ino: number;
    let data: Uint8Array = new Uint8Array(0);
    let mode: number;
    let rdevMajor = 0;
    let rdevMinor = 0;
    if (e.type === "file") {
      mode = S_IFMT.file | (e.mode & 0o7777);
      data = e.data;
      if (e.link !== undefined) {
        const g = groups.get(e.link);
        if (g) {
          ino = g.ino;
          const first = out[g.members[0]];
          if (first.mode !== mode || first.data.length !== data.length) {
            throw new VolantError("internal", `cpio: hardlink ${e.path} differs from its group`);
          }
        } else {
          ino = nextIno++;
          groups.set(e.link, { ino, members: [] });
        }
        groups.get(e.link)!.members.push(out.length);
      } else {
        ino = nextIno++;
      }
    } else {
      ino = nextIno++;
      if (e.type === "dir") mode = S_IFMT.dir | (e.mode & 0o7777);
      else if (e.type === "symlink") {
        mode = S_IFMT.symlink | 0o777;
        data = encoder.encode(e.target);
      } else {
        mode = S_IFMT[e.type] | (e.mode & 0o7777);
        rdevMajor = e.major;
        rdevMinor = e.minor;
      }
    }
    out.push({ name, mode, ino, nlink: e.type === "dir" ? 2 : 1, data, rdevMajor, rdevMinor });
  }
  // Hardlink groups: every member gets the group's nlink; only the last keeps the data.
  for (const { members } of groups.values()) {
    if (members.length < 2) continue;
    for (const i of members) {
      out[i].nlink = members.length;
      if (i !== members[members.length - 1]) out[i].data = new Uint8Array(0);
    }
  }
  return out;
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

function hex8(v: number, what: string): string {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new VolantError("invalid_input", `cpio: ${what} ${v} does not fit in 32 bits`);
  }
  return v.toString(16).toUpperCase().padStart(8, "0");
}

function entrySize(p: Planned): number {
  const head = HEADER_SIZE + p.name.length + 1;
  return head + pad4(head) + p.data.length + pad4(p.data.length);
}

function writeEntry(buf: Uint8Array, at: number, p: Planned, mtime: number): number {
  const fields = [
    p.ino,
    p.mode,
    0, // uid
    0, // gid
    p.nlink,
    mtime,
    p.data.length,
    0, // devmajor
    0, // devminor
    p.rdevMajor,
    p.rdevMinor,
    p.name.length + 1,
    0, // check (newc has none)
  ];
  const header = MAGIC + fields.map((f, i) => hex8(f, `field ${i}`)).join("");
  buf.set(encoder.encode(header), at);
  let pos = at + HEADER_SIZE;
  buf.set(p.name, pos);
  pos += p.name.length + 1; // the NUL is already 0
  pos += pad4(HEADER_SIZE + p.name.length + 1);
  buf.set(p.data, pos);
  pos += p.data.length + pad4(p.data.length);
  return pos;
}

/** Encodes `entries` as one newc archive, trailer included. */
export function encodeCpio(entries: readonly CpioInput[], options: CpioOptions = {}): Uint8Array {
  const mtime = options.mtime ?? 0;
  hex8(mtime, "mtime");
  const planned = plan(entries);
  const trailer: Planned = {
    name: encoder.encode(TRAILER),
    mode: 0,
    ino: 0,
    nlink: 1,
    data: new Uint8Array(0),
    rdevMajor: 0,
    rdevMinor: 0,
  };
  let size = entrySize(trailer);
  for (const p of planned) size += entrySize(p);
  const buf = new Uint8Array(size);
  let at = 0;
  for (const p of planned) at = writeEntry(buf, at, p, mtime);
  writeEntry(buf, at, trailer, 0);
  return buf;
}
