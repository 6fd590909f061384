import assert from "node:assert/strict";
import { RestartBudget, wantsRestart } from "./restart_policy.ts";

Deno.test("policy: never / on-failure / always against clean and failed exits", () => {
  assert.equal(wantsRestart("never", false), false);
  assert.equal(wantsRestart("on-failure", false), true);
  assert.equal(wantsRestart("on-failure", true), false);
  assert.equal(wantsRestart("always", true), true);
});

Deno.test("backoff doubles up to the cap; the window limits restarts; old ones age out", () => {
  const b = new RestartBudget({
    maxRestarts: 3,
    windowMs: 1000,
    baseDelayMs: 100,
    maxDelayMs: 250,
  });
  const d = [b.next(0), b.next(10), b.next(20)];
  assert.deepEqual(d.map((x) => x.allowed && x.delayMs), [100, 200, 250]);
  const refused = b.next(30);
  assert.equal(refused.allowed, false);
  assert.match(!refused.allowed ? refused.reason : "", /3 restarts within 1 s/);
  const later = b.next(1015); // the first two have left the window
  assert.ok(later.allowed && later.attempt === 2);
  b.reset();
  const fresh = b.next(1020);
  assert.ok(fresh.allowed && fresh.attempt === 1 && fresh.delayMs === 100);
});
