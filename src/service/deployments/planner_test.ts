import assert from "node:assert/strict";
import { type ObservedReplica, plan, type PlanInput, type ReplicaPhase } from "./planner.ts";

function r(ordinal: number, phase: ReplicaPhase = "ready", revision = 1): ObservedReplica {
  return { name: `web-${ordinal}`, ordinal, revision, phase };
}

function input(over: Partial<PlanInput>): PlanInput {
  return {
    name: "web",
    replicas: 3,
    revision: 1,
    strategy: { max_unavailable: 0, max_surge: 1 },
    deleting: false,
    observed: [],
    foreign: () => false,
    mayCreate: true,
    ...over,
  };
}

const summary = (p: ReturnType<typeof plan>) =>
  p.actions.map((a) => a.kind === "create" ? `+${a.name}@${a.revision}` : `-${a.name}`);

Deno.test("planner: an empty deployment of 3 creates web-1..3", () => {
  const p = plan(input({}));
  assert.deepEqual(summary(p), ["+web-1@1", "+web-2@1", "+web-3@1"]);
  assert.equal(p.converged, false);
});

Deno.test("planner: scale up fills the lowest free numbers, skipping loose VMs", () => {
  const p = plan(input({
    replicas: 4,
    observed: [r(1), r(3)],
    foreign: (n) => n === 2,
  }));
  assert.deepEqual(summary(p), ["+web-4@1", "+web-5@1"]);
});

Deno.test("planner: scale down removes the highest numbers", () => {
  const p = plan(input({ replicas: 1, observed: [r(1), r(2), r(3)] }));
  assert.deepEqual(summary(p), ["-web-3", "-web-2"]);
});

Deno.test("planner: converged when all ready at the revision", () => {
  const p = plan(input({ observed: [r(1), r(2), r(3)] }));
  assert.deepEqual(p.actions, []);
  assert.equal(p.converged, true);
  const pending = plan(input({ observed: [r(1), r(2), r(3, "pending")] }));
  assert.deepEqual(pending.actions, []);
  assert.equal(pending.converged, false);
});

Deno.test("planner: a failed replica is deleted and refilled under the same number", () => {
  const p = plan(input({ observed: [r(1), { ...r(2, "failed"), reason: "crashed" }, r(3)] }));
  assert.deepEqual(summary(p), ["-web-2", "+web-2@1"]);
  const del = p.actions[0];
  assert.equal(del.kind === "delete" && del.why, "replace");
  const gone = plan(input({ observed: [r(1), r(2, "missing"), r(3)] }));
  assert.deepEqual(gone.actions.map((a) => a.kind), ["forget", "create"]);
});

Deno.test("planner: no creates during backoff", () => {
  const p = plan(input({ mayCreate: false }));
  assert.deepEqual(p.actions, []);
  assert.equal(p.converged, false);
});

Deno.test("planner: deleting removes everything, busy replicas are waited for", () => {
  const p = plan(input({ deleting: true, observed: [r(1), r(2, "busy"), r(3, "failed")] }));
  assert.deepEqual(summary(p), ["-web-3", "-web-1"]);
  assert.equal(plan(input({ deleting: true })).converged, true);
});

/** Simulates a whole rollout: every new replica becomes ready one pass after it is created. */
function rollout(replicas: number, maxUnavailable: number, maxSurge: number) {
  let observed = Array.from({ length: replicas }, (_, i) => r(i + 1, "ready", 1));
  let minReady = Infinity;
  let maxTotal = 0;
  for (let pass = 0; pass < 100; pass++) {
    const p = plan(input({
      replicas,
      revision: 2,
      strategy: { max_unavailable: maxUnavailable, max_surge: maxSurge },
      observed,
    }));
    if (p.converged) return { minReady, maxTotal, passes: pass };
    // Pending replicas from the last pass are ready now.
    observed = observed.map((o) => o.phase === "pending" ? { ...o, phase: "ready" } : o);
    for (const a of p.actions) {
      if (a.kind === "delete") observed = observed.filter((o) => o.name !== a.name);
      if (a.kind === "create") observed.push(r(a.ordinal, "pending", a.revision));
      maxTotal = Math.max(maxTotal, observed.length);
      minReady = Math.min(minReady, observed.filter((o) => o.phase === "ready").length);
    }
  }
  throw new Error("rollout did not converge");
}

Deno.test("planner: a rollout with max_unavailable 0 / max_surge 1 never dips below replicas", () => {
  const res = rollout(3, 0, 1);
  assert.equal(res.minReady, 3);
  assert.equal(res.maxTotal, 4);
});

Deno.test("planner: other rollout limits hold too", () => {
  for (const [n, u, s] of [[5, 1, 0], [5, 2, 2], [1, 0, 1], [4, 1, 1]]) {
    const res = rollout(n, u, s);
    assert.ok(res.minReady >= n - u, `n=${n} u=${u} s=${s}: min ready ${res.minReady}`);
    assert.ok(res.maxTotal <= n + s, `n=${n} u=${u} s=${s}: max total ${res.maxTotal}`);
  }
});

Deno.test("planner: rollout waits for the new replica before removing an old one", () => {
  const observed = [r(1), r(2), r(3), r(4, "pending", 2)];
  const p = plan(input({ revision: 2, observed }));
  assert.deepEqual(p.actions, []);
  const ready = plan(input({ revision: 2, observed: [r(1), r(2), r(3), r(4, "ready", 2)] }));
  assert.deepEqual(summary(ready), ["-web-3"]);
});

Deno.test("planner: a not-ready old replica goes first (it serves nothing)", () => {
  const observed = [r(1), r(2, "pending"), r(3), r(4, "pending", 2)];
  const p = plan(input({ revision: 2, observed }));
  assert.deepEqual(summary(p), ["-web-2"]);
});

Deno.test("planner: creates are capped by the boot budget", () => {
  const p = plan(input({ replicas: 10, observed: [r(1, "pending")], maxCreates: 3 }));
  assert.deepEqual(summary(p), ["+web-2@1", "+web-3@1", "+web-4@1"]);
  assert.deepEqual(plan(input({ replicas: 10, maxCreates: 0 })).actions, []);
});
