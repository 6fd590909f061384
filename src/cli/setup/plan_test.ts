import assert from "node:assert/strict";
import { VolantError } from "../../errors.ts";
import { describePlan, runPlan, type Step } from "./plan.ts";

/** A step over an in-memory set: the plan runner's contract, not a host change. */
function step(state: Set<string>, key: string, log: string[], fail?: "act" | "verify"): Step {
  return {
    title: key,
    check: () => Promise.resolve(state.has(key) ? null : `add ${key}`),
    act() {
      if (fail === "act") return Promise.reject(new VolantError("conflict", `${key} refused`));
      state.add(key);
      log.push(`act ${key}`);
      return Promise.resolve();
    },
    verify() {
      if (fail === "verify") return Promise.reject(new Error(`${key} did not stick`));
      return Promise.resolve();
    },
    undo() {
      state.delete(key);
      log.push(`undo ${key}`);
      return Promise.resolve();
    },
  };
}

Deno.test("runPlan: acts only where check finds a difference; a second run is a no-op", async () => {
  const state = new Set(["b"]);
  const log: string[] = [];
  const lines: string[] = [];
  const steps = ["a", "b", "c"].map((k) => step(state, k, log));
  const r = await runPlan(steps, (l) => lines.push(l));
  assert.deepEqual(r.changed, ["a", "c"]);
  assert.deepEqual(r.unchanged, ["b"]);
  assert.deepEqual(lines, ["[1/3] a: done (add a)", "[2/3] b: in place", "[3/3] c: done (add c)"]);
  const again = await runPlan(steps, () => {});
  assert.deepEqual(again.changed, []);
});

Deno.test("runPlan: a failing step rolls back this run's changes in reverse, keeps the rest", async () => {
  for (const where of ["act", "verify"] as const) {
    const state = new Set(["b"]);
    const log: string[] = [];
    const steps = [step(state, "a", log), step(state, "b", log), step(state, "c", log)];
    steps.push(step(state, "d", log, where));
    await assert.rejects(runPlan(steps, () => {}), (e: unknown) => {
      assert.ok(e instanceof VolantError);
      assert.match(e.message, /^step 4 \(d\) failed: /);
      assert.equal(e.code, where === "act" ? "conflict" : "internal");
      return true;
    });
    // "b" was in place before: it stays. "d" is undone too when its act had run.
    assert.deepEqual([...state].sort(), ["b"]);
    const undone = log.filter((l) => l.startsWith("undo"));
    assert.deepEqual(
      undone,
      where === "act" ? ["undo c", "undo a"] : ["undo d", "undo c", "undo a"],
    );
  }
});

Deno.test("describePlan: numbered lines, changes nothing", async () => {
  const state = new Set(["b"]);
  const log: string[] = [];
  const lines = await describePlan(["a", "b"].map((k) => step(state, k, log)));
  assert.deepEqual(lines, ["1. a: would change: add a", "2. b: in place, nothing to do"]);
  assert.deepEqual(log, []);
});
