import assert from "node:assert/strict";
import { findCycles, parseImports } from "./imports.ts";

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
