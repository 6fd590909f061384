/**
 * The CLI start-up rule (docs/development.md, "CLI start-up"): what loads
 * before a volar command runs (src/main.ts and the static imports of
 * src/cli/main.ts) is our own code only: no npm package (zod: ~60 ms, its
 * schemas: ~30 ms) and no `node:` built-in (Deno's Node layer: ~35-50 ms).
 * Heavy parts load inside a command's run() through `await import(...)`.
 * Reads the module graph with `deno info --json`. (~2 s)
 *
 * @module
 */
import assert from "node:assert/strict";
import { foreignChains, moduleGraph, staticClosure } from "../../scripts/module_graph.ts";

Deno.test("volar's start-up loads no npm package and no node: built-in", async () => {
  const entry = new URL("../main.ts", import.meta.url).href;
  const graph = await moduleGraph(entry);
  const repo = new URL("../../", import.meta.url).href;
  for (const root of [entry, new URL("./main.ts", import.meta.url).href]) {
    assert.ok(staticClosure(graph, root).size >= 3, `expected modules under ${root}`);
    assert.deepEqual(
      foreignChains(graph, root, repo),
      [],
      "these load at every volar start: import them with `await import()` inside the command " +
        "that needs them; a response schema goes in RESPONSE_ZOD (src/client/zod_schemas.ts) " +
        "and is checked by name (docs/development.md, CLI start-up)",
    );
  }
});
