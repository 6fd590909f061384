/**
 * The release's code-split bundle keeps volar's start lazy: the volar chunk
 * and the chunks it imports statically hold no npm package (zod and the
 * others sit in chunks loaded through `import(String(...))` when a command
 * needs them) and import no `node:` built-in; main.js imports no persona
 * chunk statically. (~5 s: one `deno bundle`)
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO } from "./_repo.ts";
import { bundleSplit } from "./bundle.ts";

const STATIC = /(?:^|\n)\s*(?:import|export)\b[^;'"]*?(?:from\s*)?"([^"]+)"/g;

function staticImports(text: string): string[] {
  return [...text.matchAll(STATIC)].map((m) => m[1]);
}

Deno.test("bundle: volar's chunk and its static imports carry no npm package and no node: import", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-bundle-test-" });
  try {
    await bundleSplit(join(REPO, "src", "main.ts"), dir);
    const read = (f: string) => Deno.readTextFileSync(join(dir, f));
    const main = read("main.js");
    assert.deepEqual(
      staticImports(main).filter((s) => /^\.\/main-/.test(s)),
      [],
      "main.js must load personas lazily",
    );
    const personas = [...main.matchAll(/import\(String\("\.\/([^"]+)"\)\)/g)].map((m) => m[1]);
    const volar = personas.find((f) => read(f).includes("// src/cli/main.ts"));
    assert.ok(volar, `no persona chunk holds src/cli/main.ts among ${personas.join(", ")}`);
    const seen = new Set<string>();
    const todo = [volar];
    const problems: string[] = [];
    while (todo.length > 0) {
      const f = todo.pop()!;
      if (seen.has(f)) continue;
      seen.add(f);
      const text = read(f);
      for (const s of staticImports(text)) {
        if (s.startsWith("./")) todo.push(s.slice(2));
        else problems.push(`${f} imports ${s}`);
      }
      const npm = /^\/\/ .*(?:registry\.npmjs\.org|node_modules)\/((?:@[^/]+\/)?[^/]+)/m.exec(text);
      if (npm) problems.push(`${f} holds npm package ${npm[1]}`);
    }
    assert.deepEqual(
      problems,
      [],
      "loaded at every volar start (docs/development.md, CLI start-up)",
    );
    assert.ok(seen.size >= 2, "volar's chunk imports the shared chunks");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
