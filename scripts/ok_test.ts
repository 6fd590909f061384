import assert from "node:assert/strict";
import { CHECKS, finalSummary, runChecks } from "./ok.ts";

Deno.test("ok: each failed check adds one failure to the tests' summary line", () => {
  const pass = { name: "fmt", ok: true, seconds: 0, output: "" };
  const fail = { name: "lint", ok: false, seconds: 0, output: "error" };
  assert.equal(finalSummary({ passed: 10, failed: 0 }, [pass, pass]), "10 passed, 0 failed");
  assert.equal(finalSummary({ passed: 10, failed: 2 }, [pass, fail]), "10 passed, 3 failed");
  assert.equal(finalSummary(null, [pass]), "0 passed, 1 failed");
  assert.deepEqual(CHECKS.map((c) => c.name), ["fmt", "lint", "type check"]);
  assert.deepEqual(CHECKS[2].cmd.slice(1), [
    "check",
    "src/",
    "agent/",
    "tests/",
    "scripts/",
    "bench/",
  ]);
});

Deno.test("ok: runChecks runs real commands and keeps a failing one's output", async () => {
  const results = await runChecks([
    { name: "good", cmd: ["sh", "-c", "echo fine"] },
    { name: "bad", cmd: ["sh", "-c", "echo broken >&2; exit 3"] },
    { name: "missing", cmd: ["/nonexistent/tool"] },
  ]);
  assert.deepEqual(results.map((r) => [r.name, r.ok]), [["good", true], ["bad", false], [
    "missing",
    false,
  ]]);
  assert.match(results[1].output, /broken/);
  assert.match(results[2].output, /cannot run/);
});
