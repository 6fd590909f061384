/**
 * Snapshots on disk: `<state_dir>/snapshots/<vm>/<snapshot>/` holding
 * `meta.json` (the record: identity, config version, every file's sha256),
 * `vmm/` (what the VMM wrote) and `disk-<id>.qcow2` (writable overlays copied
 * while the VM was stopped). A snapshot is built in a `.tmp-*` sibling and
 * renamed into place once `meta.json` is written, so a crash mid-save never
 * leaves a half snapshot that lists or restores.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { VolantError } from "../../errors.ts";
import { type SnapshotRecord, SnapshotRecordSchema } from "../../manifest/snapshot.ts";

const META = "meta.json";

/** A snapshot being written: its temp dir, committed or aborted once. */
export interface PendingSnapshot {
  vm: string;
  name: string;
  dir: string;
}

/** The snapshot tree under one state dir. */
export class SnapshotFiles {
  /**
   * Files already hashed and found intact, by path: the inode, size, mtime and
   * ctime they had then. Hashing a 256 MiB RAM image costs about a second on
   * a busy host, on every restore of every clone; a file whose stat is
   * unchanged has not been written (ctime cannot be set back from user space).
   */
  readonly #intact = new Map<string, string>();

  constructor(
    readonly root: string,
    /** The clock the 2 s quiet rule reads (tests move it on instead of waiting). */
    readonly now: () => number = Date.now,
    readonly hash: (path: string) => Promise<{ size: number; sha256: string }> = hashFile,
  ) {}

  vmDir(vm: string): string {
    return `${this.root}/${vm}`;
  }

  dir(vm: string, name: string): string {
    return `${this.root}/${vm}/${name}`;
  }

  /** Refuses a taken name; returns a fresh temp dir to write into. */
  async begin(vm: string, name: string): Promise<PendingSnapshot> {
    if (await exists(this.dir(vm, name))) {
      throw new VolantError("conflict", `vm ${vm} already has a snapshot ${name}`, {
        problems: [{ field: "name", message: `snapshot ${name} exists` }],
      });
    }
    await Deno.mkdir(this.vmDir(vm), { recursive: true, mode: 0o700 });
    const dir = `${this.vmDir(vm)}/.tmp-${name}-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(dir, { mode: 0o700 });
    return { vm, name, dir };
  }

  /** Hashes every file, writes meta.json, renames the dir into place. */
  async commit(
    p: PendingSnapshot,
    record: Omit<SnapshotRecord, "files" | "size_bytes">,
  ): Promise<SnapshotRecord> {
    const files = await hashTree(p.dir);
    const full: SnapshotRecord = {
      ...record,
      files,
      size_bytes: files.reduce((n, f) => n + f.size, 0),
    };
    await Deno.writeTextFile(`${p.dir}/${META}`, JSON.stringify(full, null, 2) + "\n", {
      mode: 0o600,
    });
    await Deno.rename(p.dir, this.dir(p.vm, p.name));
    return full;
  }

  async abort(p: PendingSnapshot): Promise<void> {
    await removeTree(p.dir);
  }

  /** The record of one snapshot; not_found when it does not exist. */
  async get(vm: string, name: string): Promise<SnapshotRecord> {
    let text: string;
    try {
      text = await Deno.readTextFile(`${this.dir(vm, name)}/${META}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new VolantError("not_found", `vm ${vm} has no snapshot ${name}`, {
        problems: [{ field: "from", message: `no snapshot ${name} of vm ${vm}` }],
      });
    }
    const parsed = SnapshotRecordSchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      throw new VolantError("checksum_mismatch", `snapshot ${name} of vm ${vm}: corrupt meta.json`);
    }
    return parsed.data;
  }

  /** Snapshots of `vm`, oldest first (temp dirs of unfinished saves are skipped). */
  async list(vm: string): Promise<SnapshotRecord[]> {
    const out: SnapshotRecord[] = [];
    try {
      for await (const e of Deno.readDir(this.vmDir(vm))) {
        if (!e.isDirectory || e.name.startsWith(".") || e.name.startsWith("_")) continue;
        out.push(await this.get(vm, e.name));
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return out.sort((a, b) => a.created_at.localeCompare(b.created_at));
  }

  async remove(vm: string, name: string): Promise<void> {
    await this.get(vm, name);
    await removeTree(this.dir(vm, name));
  }

  /** Every snapshot of a deleted VM, and temp dirs left by a crash. */
  async removeAll(vm: string): Promise<void> {
    await removeTree(this.vmDir(vm));
  }

  /**
   * Re-hashes every file of `rec` against its meta.json: a truncated or
   * altered file is `checksum_mismatch`, naming the file.
   */
  async verify(rec: SnapshotRecord, dir = this.dir(rec.vm, rec.name)): Promise<void> {
    for (const f of rec.files) {
      const path = `${dir}/${f.path}`;
      const before = await statStamp(path, f.sha256, this.now());
      if (before && this.#intact.get(path) === before.stamp) continue;
      const h = before ? await this.hash(path) : undefined;
      if (!h || h.size !== f.size || h.sha256 !== f.sha256) {
        const why = !h
          ? "missing"
          : h.size !== f.size
          ? `${h.size} bytes, not ${f.size}`
          : "altered";
        throw new VolantError(
          "checksum_mismatch",
          `snapshot ${rec.name} of vm ${rec.vm} is damaged: ${f.path} is ${why}; ` +
            `the VM can still be started from cold (volar vms start ${rec.vm})`,
          { problems: [{ field: "from", message: `${f.path} ${why}` }] },
        );
      }
      // Kept only for a file quiet for 2 s before the hash: ctime has whole seconds here, so
      // a write in the second it was last changed could otherwise leave the stamp as it was.
      const after = await statStamp(path, f.sha256, this.now());
      if (after?.stamp === before!.stamp && before!.quiet) this.#intact.set(path, after.stamp);
    }
  }

  /**
   * Verifies `rec` once its files are quiet enough for the hashes to be kept
   * (waiting up to QUIET_MS for that), so the restores that follow skip the
   * hash: a plugin's ready snapshot is hashed here, at warm-up, not by its
   * first clones.
   */
  async prime(rec: SnapshotRecord, dir = this.dir(rec.vm, rec.name)): Promise<void> {
    let wait = 0;
    for (const f of rec.files) {
      const st = await statStamp(`${dir}/${f.path}`, f.sha256, this.now());
      wait = Math.max(wait, st?.quietIn ?? 0);
    }
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await this.verify(rec, dir);
  }
}

/** How long a file must not have changed before its hash is kept (ctime has whole seconds). */
const QUIET_MS = 2000;

/** What must not change for a hash to stay valid; null when the file is missing. */
async function statStamp(
  path: string,
  sha256: string,
  now: number,
): Promise<{ stamp: string; quiet: boolean; quietIn: number } | null> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const changed = Math.max(st.mtime?.getTime() ?? now, st.ctime?.getTime() ?? now);
  return {
    stamp: [st.dev, st.ino, st.size, st.mtime?.getTime(), st.ctime?.getTime(), sha256].join(":"),
    quiet: changed < now - QUIET_MS,
    quietIn: Math.max(0, changed + QUIET_MS + 1 - now),
  };
}

/** sha256 of every regular file under `dir` but meta.json, paths relative, sorted. */
async function hashTree(dir: string): Promise<SnapshotRecord["files"]> {
  const out: SnapshotRecord["files"] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(path);
      else if (e.isFile && path !== META) {
        out.push({ path, ...await hashFile(`${dir}/${path}`) });
      }
    }
  };
  await walk("");
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Streams a file through sha256. */
export async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const h = createHash("sha256");
  let size = 0;
  const f = await Deno.open(path, { read: true });
  for await (const chunk of f.readable) {
    size += chunk.length;
    h.update(chunk);
  }
  return { size, sha256: h.digest("hex") };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function removeTree(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
