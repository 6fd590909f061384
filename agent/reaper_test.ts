/**
 * The reaper with real processes: the test process becomes a child subreaper
 * (prctl), so orphans are re-parented to it exactly as they are to PID 1.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import * as libc from "./_libc.ts";
import { ChildTracker } from "./child_tracker.ts";
import { MemoryConsole } from "./console.ts";
import { parseStat, Reaper } from "./reaper.ts";

function zombieChildren(): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const st = parseStat(Deno.readTextFileSync(`/proc/${e.name}/stat`));
      if (st && st.state === "Z" && st.ppid === Deno.pid) out.push(st.pid);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return out;
}

function cpuTicks(): number {
  const st = Deno.readTextFileSync("/proc/self/stat");
  const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime
}

Deno.test("parseStat reads state and parent through odd process names", () => {
  assertEquals(parseStat("42 (a) b (c)) Z 1 42 42 0"), { pid: 42, state: "Z", ppid: 1 });
});

Deno.test("reaper: reaps orphans, never steals a tracked child's status, never spins", async () => {
  libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1);
  const tracker = new ChildTracker();
  const console = new MemoryConsole();
  const reaper = new Reaper(tracker, console, 200);
  reaper.start();
  try {
    for (let i = 0; i < 10; i++) {
      // The shell exits at once; its two background sleeps become our orphans.
      const orphans = new Deno.Command("/bin/sh", {
        args: ["-c", "sleep 0.05 & sleep 0.05 & exit 0"],
      }).spawn();
      tracker.add(orphans.pid);
      // A tracked child exiting at the same moment must keep its exit status for Deno.
      const tracked = new Deno.Command("/bin/sh", { args: ["-c", `sleep 0.05; exit ${40 + i}`] })
        .spawn();
      tracker.add(tracked.pid);
      assertEquals((await orphans.status).code, 0);
      tracker.delete(orphans.pid);
      const status = await tracked.status;
      tracker.delete(tracked.pid);
      assertEquals(status.code, 40 + i);
    }
    const deadline = performance.now() + 3_000;
    while (reaper.reaped < 20 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assertEquals(reaper.reaped, 20, "every orphan was reaped");
    assertEquals(zombieChildren(), []);
    assertEquals(console.lines, [], "no reaper errors");
    // Idle with no children: the reaper costs nothing (Volant's spun at 100 % CPU).
    const before = cpuTicks();
    await new Promise((r) => setTimeout(r, 600));
    const used = cpuTicks() - before;
    assert(used <= 5, `reaper used ${used} ticks while idle`);
    assertEquals(reaper.reapNow(), 0);
  } finally {
    reaper.stop();
  }
});

Deno.test("reaper: with a tracked zombie pending, other zombies are still reaped; the tracked one is left", async () => {
  libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1);
  const tracker = new ChildTracker();
  const reaper = new Reaper(tracker, new MemoryConsole());
  // sh exits 42 at once (tracked); its background sleep becomes our orphan and exits 10 ms later.
  const child = new Deno.Command("/bin/sh", { args: ["-c", "sleep 0.01 & exit 42"] }).spawn();
  tracker.add(child.pid);
  // Busy-wait on purpose: while the event loop is blocked, Deno cannot reap its child, so both
  // zombies are pending when reapNow() runs (the race a SIGCHLD reaper meets in PID 1).
  const deadline = performance.now() + 5_000;
  while (zombieChildren().length < 2 && performance.now() < deadline) {
    // spin: see above
  }
  assertEquals(zombieChildren().length, 2, "both the shell and its orphan are zombies");
  assertEquals(reaper.reapNow(), 1, "the orphan is reaped");
  assertEquals(zombieChildren(), [child.pid], "the tracked zombie is left for Deno");
  assertEquals((await child.status).code, 42, "Deno still gets the exit status");
});
