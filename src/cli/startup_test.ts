/**
 * The CLI start-up rule (docs/development.md, "CLI start-up"): what loads
 * before a volar command runs (src/main.ts and the static imports of
 * src/cli/main.ts) is our own code only: no npm package (zod: ~60 ms, its
 * schemas: ~30 ms) and no `node:` built-in (Deno's Node layer: ~35-50 ms).
 * Heavy parts load inside a command's run() through `await import(...)`.
 * Reads the imports from the source (src/architecture/imports.ts). (<1 s)
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadedAtStart, outsideAtStart } from "../architecture/imports.ts";

const REPO = new URL("../../", import.meta.url).pathname;

Deno.test("volar's start-up loads no npm package and no node: built-in", async () => {
  for (const entry of ["src/main.ts", "src/cli/main.ts"]) {
    assert.ok((await loadedAtStart(REPO, entry)).size >= 3, `expected modules under ${entry}`);
    assert.deepEqual(
      await outsideAtStart(REPO, entry),
      [],
      "these load at every volar start: import them with `await import()` inside the command " +
        "that needs them; a response schema goes in RESPONSE_ZOD (src/client/zod_schemas.ts) " +
        "and is checked by name (docs/development.md, CLI start-up)",
    );
  }
});
