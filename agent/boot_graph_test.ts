/**
 * kestrel boots without npm packages (docs/kestrel.md, "Workload first"): zod
 * and its schemas cost guest memory and emulated CPU at every cold boot, so
 * what kestrel loads before its API is up is our own code only; exec, files
 * and the full manifest validator load on first use (`await import(...)`).
 * Reads the module graph with `deno info --json`. (~2 s)
 *
 * @module
 */
import assert from "node:assert/strict";
import { foreignChains, moduleGraph, staticClosure } from "../scripts/module_graph.ts";

Deno.test("kestrel's boot loads no npm package", async () => {
  const entry = new URL("./main.ts", import.meta.url).href;
  const graph = await moduleGraph(entry);
  assert.ok(staticClosure(graph, entry).size >= 10, "expected kestrel's modules");
  assert.deepEqual(
    foreignChains(graph, entry, new URL("../", import.meta.url).href),
    [],
    "these load at every kestrel boot: import them with `await import()` where they are used",
  );
});
