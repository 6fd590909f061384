/**
 * Applies image layers to a directory, exactly: in order; whiteouts
 * (`.wh.<name>` removes what lower layers put there) and opaque directories
 * (`.wh..wh..opq` hides a directory's lower content); regular files, hard
 * links, symlinks (targets stored verbatim, never followed), directories,
 * device nodes and FIFOs; modes including setuid/setgid/sticky; uid/gid;
 * PAX xattrs; mtimes; an entry of another type replaces what was there (a file
 * by a directory and back).
 *
 * Safety: a path with a `..` segment is refused; every parent directory of an
 * entry must be a real directory inside the root (a symlink in the way is
 * refused: extraction never follows symlinks); a hard link must point at an
 * existing non-directory inside the root. Files are created with O_EXCL after
 * the old entry is removed, so nothing is ever written through a link.
 *
 * As root, owners, device nodes and all xattrs go into the tree. Rootless
 * (`rootless: true`), what a user cannot create is recorded in `fixups`
 * and written into the ext4 image by fs_image.ts.
 *
 * @module
 */
import { lchownSync, lutimesSync } from "node:fs";
import { VolantError } from "../../errors.ts";
import { Fixups } from "./fixups.ts";
import { makeNode, setXattr } from "./node_ops.ts";
import { type EntrySink, type TarHeader, TarReader } from "../../shared/tar_reader.ts";

const WH = ".wh.";
const OPAQUE = ".wh..wh..opq";

/** Counters for one unpack (all layers). */
export interface UnpackStats {
  entries: number;
  files: number;
  dirs: number;
  symlinks: number;
  hardlinks: number;
  devices: number;
  whiteouts: number;
  opaques: number;
  bytes: number;
}

/** Splits a tar path into clean segments, refusing `..`; `[]` is the root. */
export function cleanPath(raw: string, what: string): string[] {
  const segs = raw.split("/").filter((s) => s !== "" && s !== ".");
  if (segs.some((s) => s === "..")) {
    throw new VolantError("invalid_input", `${what}: entry "${raw}" escapes the root ('..')`);
  }
  return segs;
}

function lstatOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** The unpacker: one per root directory; call `applyLayer` bottom layer first, then `finish`. */
export class Unpacker {
  readonly root: string;
  readonly stats: UnpackStats = {
    entries: 0,
    files: 0,
    dirs: 0,
    symlinks: 0,
    hardlinks: 0,
    devices: 0,
    whiteouts: 0,
    opaques: 0,
    bytes: 0,
  };
  /** Directories known to be real directories (relative paths); cleared on removals. */
  #dirs = new Set<string>([""]);
  /** Directory mtimes, applied last (children change their parent's mtime). */
  #dirTimes = new Map<string, number>();
  /** Paths this layer created (opaque dirs keep them). */
  #layerPaths = new Set<string>();
  #what = "";
  /** Set when rootless: what the tree cannot hold. */
  readonly fixups: Fixups | null;

  constructor(root: string, opts: { rootless?: boolean } = {}) {
    this.root = root;
    this.fixups = opts.rootless ? new Fixups() : null;
  }

  /** A directory's final mtime (for the rootless fix-ups). */
  dirTime(rel: string, fallback = 0): number {
    return this.#dirTimes.get(rel) ?? fallback;
  }

  #abs(rel: string): string {
    return rel === "" ? this.root : `${this.root}/${rel}`;
  }

  /** Makes sure every parent of `segs` is a real directory, creating missing ones (0755). */
  #parents(segs: string[], raw: string, create: boolean): boolean {
    let rel = "";
    for (let i = 0; i < segs.length - 1; i++) {
      rel = rel === "" ? segs[i] : `${rel}/${segs[i]}`;
      if (this.#dirs.has(rel)) continue;
      const st = lstatOrNull(this.#abs(rel));
      if (st === null) {
        if (!create) return false;
        Deno.mkdirSync(this.#abs(rel), { mode: 0o755 });
        Deno.chmodSync(this.#abs(rel), 0o755);
        this.fixups?.owners.set(rel, { uid: 0, gid: 0 });
      } else if (st.isSymlink) {
        throw new VolantError(
          "invalid_input",
          `${this.#what}: entry "${raw}" goes through the symlink /${rel} (extraction never follows symlinks)`,
        );
      } else if (!st.isDirectory) {
        throw new VolantError(
          "invalid_input",
          `${this.#what}: entry "${raw}" needs /${rel} to be a directory, but it is a file`,
        );
      }
      this.#dirs.add(rel);
    }
    return true;
  }

  #remove(rel: string): void {
    this.fixups?.drop(rel);
    const abs = this.#abs(rel);
    const st = lstatOrNull(abs);
    if (st === null) return;
    if (st.isDirectory) {
      Deno.removeSync(abs, { recursive: true });
      const prefix = `${rel}/`;
      for (const d of this.#dirs) if (d === rel || d.startsWith(prefix)) this.#dirs.delete(d);
      for (const d of this.#dirTimes.keys()) {
        if (d === rel || d.startsWith(prefix)) this.#dirTimes.delete(d);
      }
    } else Deno.removeSync(abs);
  }

  /** Removes the lower-layer content of `rel`, keeping what this layer put there. */
  #prune(rel: string): void {
    for (const d of this.fixups?.devicesUnder(rel, (k) => this.#layerPaths.has(k)) ?? []) {
      this.fixups!.drop(d);
    }
    for (const e of Deno.readDirSync(this.#abs(rel))) {
      const child = rel === "" ? e.name : `${rel}/${e.name}`;
      if (!this.#layerPaths.has(child)) this.#remove(child);
      else if (e.isDirectory && !e.isSymlink) this.#prune(child);
    }
  }

  #meta(rel: string, h: TarHeader, symlink: boolean): void {
    const abs = this.#abs(rel);
    const f = this.fixups;
    if (f === null) lchownSync(abs, h.uid, h.gid);
    else f.owners.set(rel, { uid: h.uid, gid: h.gid });
    // chown clears setuid/setgid: the mode goes on afterwards.
    if (!symlink) Deno.chmodSync(abs, h.mode);
    for (const [name, value] of h.xattrs) {
      if (f === null || name.startsWith("user.")) setXattr(abs, name, value);
      else f.xattrs.set(rel, (f.xattrs.get(rel) ?? new Map()).set(name, value));
    }
    if (h.type === "dir") this.#dirTimes.set(rel, h.mtime);
    else lutimesSync(abs, h.mtime, h.mtime);
  }

  #entry(h: TarHeader): EntrySink | null {
    this.stats.entries++;
    const segs = cleanPath(h.path, this.#what);
    if (segs.length === 0) {
      // The root itself ("./"): take its metadata, nothing to create.
      if (h.type === "dir") this.#meta("", h, false);
      return null;
    }
    const base = segs[segs.length - 1];
    if (base.startsWith(WH)) {
      if (!this.#parents(segs, h.path, false)) return null;
      const dir = segs.slice(0, -1).join("/");
      if (base === OPAQUE) {
        this.stats.opaques++;
        if (lstatOrNull(this.#abs(dir))?.isDirectory) this.#prune(dir);
      } else {
        this.stats.whiteouts++;
        const name = base.slice(WH.length);
        cleanPath(name, this.#what);
        this.#remove(dir === "" ? name : `${dir}/${name}`);
      }
      return null;
    }
    this.#parents(segs, h.path, true);
    const rel = segs.join("/");
    const abs = this.#abs(rel);
    this.#layerPaths.add(rel);
    const existing = lstatOrNull(abs);
    if (h.type === "dir") {
      this.stats.dirs++;
      if ((existing !== null && !existing.isDirectory) || this.fixups?.devices.has(rel)) {
        this.#remove(rel);
      }
      if (existing === null || !existing.isDirectory) Deno.mkdirSync(abs);
      this.#dirs.add(rel);
      this.#meta(rel, h, false);
      return null;
    }
    if (existing !== null || this.fixups?.devices.has(rel)) this.#remove(rel);
    switch (h.type) {
      case "file": {
        this.stats.files++;
        this.stats.bytes += h.size;
        const f = Deno.openSync(abs, { write: true, createNew: true, mode: 0o600 });
        if (h.size === 0) {
          f.close();
          this.#meta(rel, h, false);
          return null;
        }
        return {
          write: (chunk) => {
            for (let w = 0; w < chunk.length;) w += f.writeSync(chunk.subarray(w));
          },
          end: () => {
            f.close();
            this.#meta(rel, h, false);
          },
        };
      }
      case "symlink":
        this.stats.symlinks++;
        Deno.symlinkSync(h.linkname, abs);
        this.#meta(rel, h, true);
        return null;
      case "hardlink": {
        this.stats.hardlinks++;
        const target = cleanPath(h.linkname, this.#what);
        if (target.length === 0 || !this.#parents(target, h.linkname, false)) {
          throw new VolantError(
            "invalid_input",
            `${this.#what}: hard link "${h.path}" -> "${h.linkname}": target does not exist`,
          );
        }
        const t = lstatOrNull(this.#abs(target.join("/")));
        if (t === null || t.isDirectory) {
          throw new VolantError(
            "invalid_input",
            `${this.#what}: hard link "${h.path}" -> "${h.linkname}": target ${
              t ? "is a directory" : "does not exist"
            }`,
          );
        }
        Deno.linkSync(this.#abs(target.join("/")), abs);
        const owner = this.fixups?.owners.get(target.join("/"));
        if (owner) this.fixups!.owners.set(rel, owner);
        return null;
      }
      default:
        this.stats.devices++;
        if (this.fixups !== null && h.type !== "fifo") {
          this.fixups.devices.set(rel, {
            type: h.type,
            major: h.devmajor,
            minor: h.devminor,
            mode: h.mode,
            mtime: h.mtime,
          });
          this.fixups.owners.set(rel, { uid: h.uid, gid: h.gid });
          return null;
        }
        makeNode(abs, h.type, h.mode, h.devmajor, h.devminor);
        this.#meta(rel, h, false);
        return null;
    }
  }

  /** Applies one uncompressed layer tar. `what` names it in errors (`layer 2 sha256:...`). */
  async applyLayer(tar: ReadableStream<Uint8Array>, what: string): Promise<void> {
    this.#what = what;
    this.#layerPaths = new Set();
    const reader = new TarReader((h) => this.#entry(h));
    for await (const chunk of tar) {
      // Keep reading to the end after the end marker: the digest check needs every byte.
      if (!reader.done) reader.push(chunk);
    }
    reader.end();
  }

  /** Sets directory mtimes (deepest first) and the root's; call after the last layer. */
  finish(defaultMtime = 0): void {
    const all = [...this.#dirs].sort((a, b) => b.length - a.length);
    for (const rel of all) {
      const t = this.#dirTimes.get(rel) ?? defaultMtime;
      if (lstatOrNull(this.#abs(rel))?.isDirectory) Deno.utimeSync(this.#abs(rel), t, t);
    }
  }
}
