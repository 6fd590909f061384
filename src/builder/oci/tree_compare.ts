/**
 * A file-by-file description of a directory tree (type, mode, owner, size,
 * content digest, link target, device number, xattrs, mtime, hard-link
 * groups), used by the tests to compare our unpack with `umoci unpack`.
 *
 * @module
 */
import { join } from "node:path";
import { digestOf } from "./digest_stream.ts";

/** One path's facts, as a comparable string. */
export type TreeListing = Map<string, string>;

/** Describes every path under `root` (never following symlinks). */
export async function describeTree(root: string): Promise<TreeListing> {
  const out: TreeListing = new Map();
  const inodes = new Map<number, string[]>();
  const xattrs = await xattrDump(root);
  const walk = (dir: string, rel: string) => {
    for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
      const p = join(dir, e.name);
      const r = `${rel}/${e.name}`;
      const st = Deno.lstatSync(p);
      const type = st.isFile
        ? "file"
        : st.isDirectory
        ? "dir"
        : st.isSymlink
        ? "symlink"
        : st.isCharDevice
        ? "char"
        : st.isBlockDevice
        ? "block"
        : st.isFifo
        ? "fifo"
        : "other";
      const parts = [type, (st.mode! & 0o7777).toString(8), `${st.uid}:${st.gid}`];
      if (st.isFile) {
        parts.push(String(st.size), digestOf(Deno.readFileSync(p)).slice(7, 23));
        if ((st.nlink ?? 1) > 1) inodes.set(st.ino!, [...(inodes.get(st.ino!) ?? []), r]);
      }
      if (st.isSymlink) parts.push(`-> ${Deno.readLinkSync(p)}`);
      if (st.isCharDevice || st.isBlockDevice) parts.push(`rdev ${st.rdev}`);
      if (!st.isDirectory && !st.isSymlink) parts.push(`mtime ${st.mtime?.getTime()}`);
      const x = xattrs.get(r);
      if (x) parts.push(`xattrs ${x}`);
      out.set(r, parts.join(" "));
      if (st.isDirectory) walk(p, r);
    }
  };
  walk(root, "");
  for (const group of inodes.values()) {
    for (const r of group) out.set(r, `${out.get(r)} links ${group.sort().join(",")}`);
  }
  return out;
}

/** `getfattr` of every path: relative path -> "name=value;..." (user/security/trusted). */
async function xattrDump(root: string): Promise<Map<string, string>> {
  const out = await new Deno.Command("getfattr", {
    args: ["-R", "-h", "-d", "-m", "-", "-e", "hex", "."],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const map = new Map<string, string>();
  let current = "";
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    if (line.startsWith("# file: ")) current = "/" + line.slice(8).replace(/^\.\//, "");
    else if (line.includes("=")) {
      map.set(current, [map.get(current), line].filter(Boolean).join(";"));
    }
  }
  return map;
}

/** Lines that differ between two listings (`path: a | b`), empty when equal. */
export function diffTrees(a: TreeListing, b: TreeListing): string[] {
  const diffs: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    if (a.get(k) !== b.get(k)) {
      diffs.push(`${k}: ${a.get(k) ?? "(missing)"} | ${b.get(k) ?? "(missing)"}`);
    }
  }
  return diffs.sort();
}
