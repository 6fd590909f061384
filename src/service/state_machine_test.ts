import assert from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import { VM_STATES } from "../manifest/api.ts";
import { ALLOWED_ACTIONS, assertAllowed, assertTransition, TRANSITIONS } from "./state_machine.ts";

Deno.test("every state has a transition table entry and targets are states", () => {
  for (const s of VM_STATES) {
    assert.ok(TRANSITIONS[s], s);
    for (const t of TRANSITIONS[s]) assert.ok(VM_STATES.includes(t), `${s} -> ${t}`);
  }
});

Deno.test("disallowed actions are conflicts naming the state", () => {
  assert.throws(
    () => assertAllowed("start", "running", "web"),
    (e) => isVolantError(e, "conflict") && /cannot start vm web: it is running/.test(e.message),
  );
  assert.throws(() => assertAllowed("delete", "starting", "web"), /it is starting/);
  assertAllowed("start", "crashed", "web");
  assertAllowed("stop", "stopped", "web");
  assert.ok(!ALLOWED_ACTIONS.start.includes("deleting"));
});

Deno.test("impossible transitions are refused", () => {
  assertTransition("running", "stopping", "web");
  assert.throws(() => assertTransition("stopped", "running", "web"), /from stopped to running/);
  assert.throws(() => assertTransition("created", "stopped", "web"));
});
