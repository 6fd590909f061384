/**
 * The reaper with real processes. The scenarios run in a separate process
 * (testdata/reaper_scenarios.ts) that makes itself a child subreaper (prctl),
 * so orphans are re-parented to it exactly as they are to PID 1.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { parseStat } from "./reaper.ts";

Deno.test("parseStat reads state, parent and session through odd process names", () => {
  assertEquals(parseStat("42 (a) b (c)) Z 1 42 40 0"), {
    pid: 42,
    state: "Z",
    ppid: 1,
    session: 40,
  });
});

Deno.test("reaper: reaps orphans, never steals a tracked child's status, never spins", async () => {
  const script = new URL("./testdata/reaper_scenarios.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert(out.success, stderr);
  const r = JSON.parse(new TextDecoder().decode(out.stdout));

  const o = r.orphans;
  assertEquals(o.codes, [40, 41, 42, 43, 44, 45, 46, 47, 48, 49], "Deno kept every exit status");
  assertEquals(o.reaped, 20, "every orphan was reaped");
  assertEquals(o.zombies, [], "no zombie left");
  assertEquals(o.errors, [], "no reaper errors");
  assert(o.idleTicks <= 5, `reaper used ${o.idleTicks} clock ticks in 600 ms idle`);
  assertEquals(o.reapNow, 0);

  const t = r.trackedZombie;
  assertEquals(t.before, 2, "the shell and its orphan were both zombies");
  assertEquals(t.reaped, 1, "the orphan was reaped");
  assert(t.leftIsTracked, "the tracked zombie was left for Deno");
  assertEquals(t.code, 42, "Deno still got the exit status");
});
