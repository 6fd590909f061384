/**
 * Run by reaper_test.ts in its OWN process: becoming a child subreaper and
 * reaping untracked zombies are process-wide, so they must not share a
 * process with other tests (`deno test --parallel` runs files as workers of
 * one process). Prints one JSON object with what it observed.
 */
import * as libc from "../_libc.ts";
import { ChildTracker } from "../child_tracker.ts";
import { MemoryConsole } from "../console.ts";
import { parseStat, Reaper } from "../reaper.ts";

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
  return Number(f[11]) + Number(f[12]); // utime + stime of the whole process
}

libc.prctl(libc.PR_SET_CHILD_SUBREAPER, 1);

/** 1: orphans are reaped on SIGCHLD while tracked children keep their statuses. */
async function orphans() {
  const tracker = new ChildTracker();
  const console = new MemoryConsole();
  const reaper = new Reaper(tracker, console, 200);
  reaper.start();
  const codes: number[] = [];
  try {
    for (let i = 0; i < 10; i++) {
      // The shell exits at once; its two background sleeps become our orphans.
      const parent = new Deno.Command("/bin/sh", {
        args: ["-c", "sleep 0.05 & sleep 0.05 & exit 0"],
      })
        .spawn();
      tracker.add(parent.pid);
      const tracked = new Deno.Command("/bin/sh", { args: ["-c", `sleep 0.05; exit ${40 + i}`] })
        .spawn();
      tracker.add(tracked.pid);
      await parent.status;
      tracker.delete(parent.pid);
      codes.push((await tracked.status).code);
      tracker.delete(tracked.pid);
    }
    const deadline = performance.now() + 3_000;
    while (reaper.reaped < 20 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const reaped = reaper.reaped;
    const zombies = zombieChildren();
    // Idle with no children: the reaper must cost nothing (Volant's spun at 100 % CPU).
    const before = cpuTicks();
    await new Promise((r) => setTimeout(r, 600));
    const idleTicks = cpuTicks() - before;
    return { codes, reaped, zombies, idleTicks, errors: console.lines, reapNow: reaper.reapNow() };
  } finally {
    reaper.stop();
  }
}

/** 2: with a tracked zombie pending, other zombies are reaped and the tracked one is left. */
async function trackedZombie() {
  const tracker = new ChildTracker();
  const reaper = new Reaper(tracker, new MemoryConsole());
  const child = new Deno.Command("/bin/sh", { args: ["-c", "sleep 0.01 & exit 42"] }).spawn();
  tracker.add(child.pid);
  // Busy-wait on purpose: while the event loop is blocked Deno cannot reap its child, so both
  // zombies are pending when reapNow() runs (the race a SIGCHLD reaper meets as PID 1).
  const deadline = performance.now() + 5_000;
  while (zombieChildren().length < 2 && performance.now() < deadline) {
    // spin: see above
  }
  const before = zombieChildren().length;
  const reaped = reaper.reapNow();
  const left = zombieChildren();
  const code = (await child.status).code;
  return { before, reaped, leftIsTracked: left.length === 1 && left[0] === child.pid, code };
}

console.log(JSON.stringify({ orphans: await orphans(), trackedZombie: await trackedZombie() }));
