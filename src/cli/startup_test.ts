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

interface InfoModule {
  specifier: string;
  dependencies?: { specifier: string; isDynamic?: boolean; code?: { specifier: string } }[];
}

async function moduleGraph(entry: string): Promise<Map<string, InfoModule>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
  return new Map(info.modules.map((m) => [m.specifier, m]));
}

/** Static (non-`import()`, non-type) imports reachable from `root`, each with who imports it. */
function staticClosure(graph: Map<string, InfoModule>, root: string): Map<string, string> {
  const from = new Map<string, string>([[root, ""]]);
  const todo = [root];
  while (todo.length > 0) {
    const s = todo.pop()!;
    for (const d of graph.get(s)?.dependencies ?? []) {
      const target = d.code?.specifier;
      if (d.isDynamic || target === undefined || from.has(target)) continue;
      from.set(target, s);
      todo.push(target);
    }
  }
  return from;
}

Deno.test("volar's start-up loads no npm package and no node: built-in", async () => {
  const entry = new URL("../main.ts", import.meta.url).href;
  const graph = await moduleGraph(entry);
  const repo = new URL("../../", import.meta.url).href;
  for (const root of [entry, new URL("./main.ts", import.meta.url).href]) {
    const from = staticClosure(graph, root);
    assert.ok(from.size >= 3, `expected modules under ${root}`);
    const foreign = [...from.keys()].filter((s) => !s.startsWith("file:"));
    const chains = foreign.map((s) => {
      const chain = [s];
      for (let at = from.get(s); at; at = from.get(at)) chain.push(at.replace(repo, ""));
      return chain.join(" <- ");
    });
    assert.deepEqual(
      chains,
      [],
      "these load at every volar start: import them with `await import()` inside the command " +
        "that needs them; a response schema goes in RESPONSE_ZOD (src/client/zod_schemas.ts) " +
        "and is checked by name (docs/development.md, CLI start-up)",
    );
  }
});
