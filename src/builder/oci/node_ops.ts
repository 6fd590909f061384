/**
 * The few file-system calls Deno has no API for, used by the unpacker:
 * device nodes and FIFOs (mknod) and extended attributes (lsetxattr), through
 * the host's one libc binding (src/ffi/libc.ts).
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import { cString, errno, libc } from "../../ffi/libc.ts";

const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

/** glibc's makedev. */
function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

/** Creates a device node or FIFO at `path` (never follows: the path must not exist). */
export function makeNode(
  path: string,
  type: "char" | "block" | "fifo",
  mode: number,
  major: number,
  minor: number,
): void {
  const kind = type === "char" ? S_IFCHR : type === "block" ? S_IFBLK : S_IFIFO;
  const rc = libc().mknod(cString(path), kind | (mode & 0o7777), makedev(major, minor));
  if (rc !== 0) {
    throw new VolantError("internal", `mknod ${path}: errno ${errno()}`);
  }
}

/** Sets one extended attribute on `path` itself (not a symlink's target). */
export function setXattr(path: string, name: string, value: Uint8Array): void {
  const v = new Uint8Array(value);
  const rc = libc().lsetxattr(cString(path), cString(name), v, BigInt(v.length), 0);
  if (rc !== 0) {
    throw new VolantError("internal", `setxattr ${name} on ${path}: errno ${errno()}`);
  }
}
