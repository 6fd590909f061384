/**
 * The build cache under `<cache>/agent/`: one directory per key, the
 * `current` symlink, pruning of the least recently used builds, and the
 * checksums file whose presence marks a finished build.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";

/** How many built keys stay in <cache>/agent (each ~100 MiB); the least recently used go. */
export const KEEP_BUILDS = 8;

/** Points `<root>/current` at `key` atomically (rename over the old link). */
export async function publishCurrent(root: string, key: string): Promise<void> {
  const tmp = join(root, `current.tmp-${Deno.pid}`);
  await Deno.symlink(key, tmp);
  await Deno.rename(tmp, join(root, "current"));
}

/**
 * Removes the least recently used builds beyond KEEP_BUILDS, never the one just
 * built nor the one `current` points at. A VM already running keeps its open
 * image; only new boots of a pruned key would rebuild it.
 */
export async function pruneCache(root: string, justBuilt: string): Promise<void> {
  const current = await Deno.readLink(join(root, "current")).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  });
  const builds: { name: string; used: number }[] = [];
  for await (const e of Deno.readDir(root)) {
    if (!e.isDirectory || !/^[0-9a-f]{16}$/.test(e.name)) continue;
    builds.push({
      name: e.name,
      used: (await Deno.stat(join(root, e.name))).mtime?.getTime() ?? 0,
    });
  }
  builds.sort((a, b) => b.used - a.used);
  for (const b of builds.slice(KEEP_BUILDS)) {
    if (b.name === justBuilt || b.name === current) continue;
    await Deno.remove(join(root, b.name), { recursive: true });
  }
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/** Writes `<dir>/SHA256SUMS` (sha256sum format) for `files`. */
export async function writeSums(dir: string, files: string[]): Promise<void> {
  let sums = "";
  for (const f of files) sums += `${await fileSha256(join(dir, f))}  ${f}\n`;
  await Deno.writeTextFile(join(dir, "SHA256SUMS"), sums);
}
