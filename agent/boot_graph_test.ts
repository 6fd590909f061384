/**
 * kestrel boots without npm packages (docs/kestrel.md, "Workload first"): zod
 * and its schemas cost guest memory and emulated CPU at every cold boot, so
 * what kestrel loads before its API is up is our own code only; exec, files
 * and the full manifest validator load on first use (`await import(...)`).
 * Reads the imports from the source (src/architecture/imports.ts). (<1 s)
 *
 * @module
 */
import assert from "node:assert/strict";
import { loadedAtStart, outsideAtStart } from "../src/architecture/imports.ts";

const REPO = new URL("../", import.meta.url).pathname;

Deno.test("kestrel's boot loads no npm package", async () => {
  assert.ok((await loadedAtStart(REPO, "agent/main.ts")).size >= 10, "expected kestrel's modules");
  assert.deepEqual(
    await outsideAtStart(REPO, "agent/main.ts"),
    [],
    "these load at every kestrel boot: import them with `await import()` where they are used",
  );
});

Deno.test("kestrel's boot modules time through agent/timeout.ts, not the global setTimeout", async () => {
  // Deno's global setTimeout/setInterval load Node's timer stack (~1.4 MiB in every guest);
  // agent/timeout.ts times a guest's PID 1 with the runtime's own timer instead.
  const offenders: string[] = [];
  for (const path of (await loadedAtStart(REPO, "agent/main.ts")).keys()) {
    if (!/\.ts$/.test(path) || path === "agent/timeout.ts" || path.includes(":")) continue;
    const text = await Deno.readTextFile(`${REPO}${path}`);
    if (/\bset(Timeout|Interval)\(/.test(text)) offenders.push(path);
  }
  assert.deepEqual(offenders, [], "use after/every/sleep/within from agent/timeout.ts");
});
