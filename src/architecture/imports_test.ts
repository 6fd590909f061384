import assert from "node:assert/strict";
import { findCycles, loadedAtStart, outsideAtStart, parseImports } from "./imports.ts";

Deno.test("parseImports: static, type-only, side-effect, re-export, multi-line and dynamic imports", () => {
  const source = [
    'import { type A, type B } from "./x.ts";',
    'import type C from "./y.ts";',
    'export { z } from "./z.ts";',
    'import "./side.ts";',
    '// import { q } from "./commented.ts";',
    'const m = await import("./dyn.ts");',
    '/** import { r } from "./doc.ts" */',
    'const t = `import { s } from "./template.ts"`;',
    "import {",
    "  a,",
    "  b,",
    '} from "./multi.ts";',
  ].join("\n");
  assert.deepEqual(parseImports(source), [
    { specifier: "./x.ts", typeOnly: true, dynamic: false },
    { specifier: "./y.ts", typeOnly: true, dynamic: false },
    { specifier: "./z.ts", typeOnly: false, dynamic: false },
    { specifier: "./multi.ts", typeOnly: false, dynamic: false },
    { specifier: "./side.ts", typeOnly: false, dynamic: false },
    { specifier: "./dyn.ts", typeOnly: false, dynamic: true },
  ]);
});

Deno.test("findCycles: each cycle once, led by its smallest name; self-imports count", () => {
  const edges = new Map([["b", ["c"]], ["c", ["a"]], ["a", ["b"]], ["d", ["d"]], ["e", ["a"]]]);
  assert.deepEqual(findCycles(edges), [["a", "b", "c"], ["d"]]);
  assert.deepEqual(findCycles(new Map([["a", ["b"]], ["b", []]])), []);
});

Deno.test("outsideAtStart: static value imports only, with the chain that loads each", async () => {
  const root = await Deno.makeTempDir({ prefix: "volant-imports-" });
  try {
    const files: Record<string, string> = {
      "a/main.ts": 'import { b } from "./b.ts";\nimport type { T } from "./types.ts";\n' +
        'const lazy = () => import("./lazy.ts");\nimport data from "./d.json" with { type: "json" };',
      "a/b.ts": 'import { z } from "zod";\nimport { join } from "node:path";\nexport const b = 1;',
      "a/types.ts": 'import { x } from "npm:heavy";\nexport type T = 1;',
      "a/lazy.ts": 'import { y } from "npm:lazy";',
      "a/d.json": "{}",
    };
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(`${root}/a`, { recursive: true });
      await Deno.writeTextFile(`${root}/${path}`, text);
    }
    assert.deepEqual((await outsideAtStart(root, "a/main.ts")).sort(), [
      "node:path <- a/b.ts <- a/main.ts",
      "zod <- a/b.ts <- a/main.ts",
    ]);
    assert.ok((await loadedAtStart(root, "a/main.ts")).has("a/d.json"));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
