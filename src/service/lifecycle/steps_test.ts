import assert from "node:assert/strict";
import { rollback, runSteps, type Step, StepFailed } from "./steps.ts";
import { StopIntent } from "./stop_intent.ts";

Deno.test("steps: a failure undoes every begun step in reverse, the failing one included", async () => {
  const log: string[] = [];
  const step = (name: string, fail = false, undoFails = false): Step => ({
    name,
    act: () => {
      log.push(`act ${name}`);
      return fail ? Promise.reject(new Error(`${name} broke`)) : Promise.resolve();
    },
    undo: () => {
      log.push(`undo ${name}`);
      return undoFails ? Promise.reject(new Error("busy")) : Promise.resolve();
    },
  });
  const failed = await runSteps([step("a", false, true), step("b", true), step("c")]).then(
    () => null,
    (e) => e,
  );
  assert.ok(failed instanceof StepFailed);
  assert.equal(failed.step, "b");
  assert.equal(failed.message, "b broke");
  assert.deepEqual(failed.rollback, ["a: busy"]);
  assert.deepEqual(log, ["act a", "act b", "undo b", "undo a"]);
  assert.deepEqual(await rollback([]), []);
});

Deno.test("stop intent: marks nest, and either the mark or the driver's marker means asked", async () => {
  const intent = new StopIntent();
  assert.equal(intent.wasAsked("v", { requested: false }), false);
  assert.equal(intent.wasAsked("v", { requested: true }), true, "the on-disk marker (adoption)");
  await intent.during("v", async () => {
    await intent.during("v", () => Promise.resolve());
    assert.equal(intent.wasAsked("v", { requested: false }), true, "still inside the outer stop");
  });
  assert.equal(intent.pending("v"), false);
  await assert.rejects(intent.during("v", () => Promise.reject(new Error("x"))));
  assert.equal(intent.pending("v"), false, "cleared after a failure too");
});
