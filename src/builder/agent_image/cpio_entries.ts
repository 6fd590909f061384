/**
 * The boot initramfs's cpio entries, written by fledge's newc writer
 * (src/builder/cpio.ts: sorted, uid/gid 0, mtime 0, sequential inodes,
 * device nodes as headers so building needs neither root nor mknod). This
 * module only adds default modes, so scripts and tests can list entries
 * tersely.
 *
 * @module
 */
import { type CpioInput, encodeCpio } from "../cpio.ts";

/** One archive member; parents must be listed explicitly as directories. */
export type CpioEntry =
  | { path: string; type: "dir"; mode?: number }
  | { path: string; type: "file"; data: Uint8Array; mode?: number }
  | { path: string; type: "symlink"; target: string }
  | { path: string; type: "char"; major: number; minor: number; mode?: number };

const DEFAULT_MODE = { dir: 0o755, file: 0o644, char: 0o600 } as const;

function withMode(e: CpioEntry): CpioInput {
  return e.type === "symlink" ? e : { ...e, mode: e.mode ?? DEFAULT_MODE[e.type] };
}

/** Serialises entries (sorted by path, duplicates refused) plus the trailer. */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array {
  return encodeCpio(entries.map(withMode));
}
