/**
 * `deno task bundle`: one JS file per program, runnable with `deno run -A`,
 * for machines without denort: `dist/volant.js` (all personas; dispatch by
 * the first argument, or by argv0 under `exec -a`) and `dist/kestrel.js`.
 *
 * @module
 */
import { REPO, run } from "./_repo.ts";

/** Bundles `entry` into `output` (npm packages included). */
export async function bundle(entry: string, output: string): Promise<void> {
  await run(Deno.execPath(), [
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--packages",
    "bundle",
    "--output",
    output,
    entry,
  ]);
}

/**
 * Makes the chunk imports esbuild emits (`import("./x-HASH.js")`) opaque to
 * Deno's module graph: Deno reads and analyses every statically visible
 * dynamic import at start-up, which would load every persona's chunk on each
 * call. `import(String("./x-HASH.js"))` resolves the same, on first use.
 * Only specifiers naming a chunk in `outdir` are touched. Returns how many.
 */
export async function deferChunkImports(outdir: string): Promise<number> {
  const chunks = new Set<string>();
  for await (const e of Deno.readDir(outdir)) {
    if (e.isFile && e.name.endsWith(".js")) chunks.add(e.name);
  }
  let count = 0;
  for (const name of [...chunks].sort()) {
    const path = `${outdir}/${name}`;
    const text = await Deno.readTextFile(path);
    const out = text.replace(/\bimport\("\.\/([A-Za-z0-9_-]+\.js)"\)/g, (all, file: string) => {
      if (!chunks.has(file)) return all;
      count++;
      return `import(String("./${file}"))`;
    });
    if (out !== text) await Deno.writeTextFile(path, out);
  }
  return count;
}

/**
 * Bundles `entry` with code splitting into `outdir`: `main.js` plus chunks,
 * so a dynamic `import()` (one per persona in src/main.ts) loads only its own
 * chunk, and only when called (deferChunkImports). The release ships this
 * shape (scripts/release.ts).
 */
export async function bundleSplit(entry: string, outdir: string): Promise<void> {
  await run(Deno.execPath(), [
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--packages",
    "bundle",
    "--code-splitting",
    "--outdir",
    outdir,
    entry,
  ]);
  await deferChunkImports(outdir);
}

if (import.meta.main) {
  await Deno.mkdir(`${REPO}/dist`, { recursive: true });
  await bundle(`${REPO}/src/main.ts`, `${REPO}/dist/volant.js`);
  console.log(`${REPO}/dist/volant.js`);
  try {
    await Deno.stat(`${REPO}/agent/main.ts`);
    await bundle(`${REPO}/agent/main.ts`, `${REPO}/dist/kestrel.js`);
    console.log(`${REPO}/dist/kestrel.js`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    console.error("bundle: agent/main.ts not found: kestrel not bundled");
  }
}
