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
 * Bundles `entry` with code splitting into `outdir`: `main.js` plus chunks,
 * so a dynamic `import()` (one per persona in src/main.ts) loads only its own
 * chunk. The release ships this shape (scripts/release.ts).
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
