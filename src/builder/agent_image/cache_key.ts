/**
 * The cache key of an agent image build: a hash of every input that changes
 * the three artifacts (kestrel's sources or bytes, deno and its libraries,
 * busybox, the shim sources, and this builder's own code).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BUSYBOX, LAYOUT_VERSION, SHIM_DIR } from "./options.ts";
import type { AgentBuildOptions } from "./options.ts";
import { REPO, run } from "./run.ts";
import { exists } from "../../shared/fs.ts";

export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Local files an entry point imports plus its npm packages, from `deno info`. */
async function entryInputs(entry: string): Promise<string[]> {
  const info = JSON.parse(await run(Deno.execPath(), ["info", "--json", entry])) as {
    modules: { specifier: string }[];
    npmPackages?: Record<string, unknown>;
  };
  const files = info.modules.map((m) => m.specifier).filter((s) => s.startsWith("file:")).sort();
  const parts: string[] = [];
  for (const f of files) parts.push(`${f} ${sha256(await Deno.readFile(fileURLToPath(f)))}`);
  parts.push(...Object.keys(info.npmPackages ?? {}).sort());
  return parts;
}

/** agent/manifest_full.ts beside the entry, if there (a separately bundled, lazily loaded module). */
export async function fullValidatorEntry(entry: string): Promise<string | null> {
  const path = join(dirname(entry), "manifest_full.ts");
  return await exists(path, { followLinks: false }) ? path : null;
}

/** Every C source and header of shim/, sorted. */
async function shimSources(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(SHIM_DIR)) if (/\.[ch]$/.test(e.name)) out.push(e.name);
  return out.sort();
}

async function statStamp(path: string): Promise<string> {
  const st = await Deno.stat(path);
  return `${path} ${st.size} ${st.mtime?.getTime()}`;
}

/** The builder's own sources (repo-relative): a change to any of them is a new key. */
export async function builderSources(): Promise<string[]> {
  const dir = "src/builder/agent_image";
  const own: string[] = [];
  for await (const e of Deno.readDir(join(REPO, dir))) {
    if (e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) {
      own.push(`${dir}/${e.name}`);
    }
  }
  return [...own.sort(), "src/builder/cpio.ts", "src/builder/ext4_pin.ts"];
}

/** The cache key: the first 16 hex digits of the hash of every input. */
export async function cacheKey(
  o: AgentBuildOptions,
  deno: string,
  libs: Map<string, string>,
): Promise<string> {
  const parts = [LAYOUT_VERSION, `epoch ${o.epoch ?? 0}`, `kestrel ${o.kestrel.kind}`];
  if (o.compile) parts.push("compile");
  if (o.kestrel.kind === "entry") {
    parts.push(...await entryInputs(o.kestrel.path));
    const full = await fullValidatorEntry(o.kestrel.path);
    if (full) parts.push(...await entryInputs(full));
  } else parts.push(sha256(await Deno.readFile(o.kestrel.path)));
  if (o.kestrel.kind !== "compiled") parts.push(await statStamp(deno));
  for (const [name, path] of [...libs].sort()) parts.push(`${name} ${await statStamp(path)}`);
  parts.push(sha256(await Deno.readFile(BUSYBOX)));
  for (const f of [...await shimSources(), "Makefile"]) {
    parts.push(`${f} ${sha256(await Deno.readFile(join(SHIM_DIR, f)))}`);
  }
  for (const f of await builderSources()) {
    parts.push(`${f} ${sha256(await Deno.readFile(join(REPO, f)))}`);
  }
  return sha256(parts.join("\n")).slice(0, 16);
}
