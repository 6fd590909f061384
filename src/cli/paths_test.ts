import assert from "node:assert/strict";
import { resolve } from "node:path";
import { absolutePath } from "./paths.ts";

Deno.test("absolutePath agrees with node:path resolve", () => {
  const cwds = ["/", "/srv/work", "/srv/work/"];
  const paths = [
    "a.json",
    "./a.json",
    "../a.json",
    "../../../../a",
    "/etc/x",
    "/etc//x/./y/../z/",
    "dir/",
    ".",
    "..",
    "a b/c",
  ];
  for (const cwd of cwds) {
    for (const p of paths) assert.equal(absolutePath(cwd, p), resolve(cwd, p), `${cwd} + ${p}`);
  }
});
