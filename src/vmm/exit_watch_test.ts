import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { openPidFd } from "./_pidfd.ts";
import { waitForExit } from "./exit_watch.ts";
import { readStat } from "./proc.ts";

async function startSleeper(): Promise<
  { pid: number; startTime: string; child: Deno.ChildProcess }
> {
  const child = new Deno.Command("sleep", { args: ["30"], stdout: "null", stderr: "null" }).spawn();
  const stat = await readStat(child.pid);
  if (!stat) throw new Error("sleeper vanished");
  return { pid: child.pid, startTime: stat.startTime, child };
}

Deno.test("pidfd becomes readable when the process exits", async () => {
  const s = await startSleeper();
  const fd = openPidFd(s.pid);
  if (!fd) throw new Error("pidfd_open unavailable: run with --allow-ffi on Linux >= 5.3");
  try {
    assertEquals(await fd.waitExit(50), false);
    s.child.kill("SIGKILL");
    assertEquals(await fd.waitExit(5000), true);
  } finally {
    fd.close();
    await s.child.status;
  }
});

Deno.test("waitForExit resolves after a SIGKILL from outside", async () => {
  const s = await startSleeper();
  const done = waitForExit({ pid: s.pid, startTime: s.startTime });
  const t0 = performance.now();
  setTimeout(() => Deno.kill(s.pid, "SIGKILL"), 100);
  await done;
  assertEquals(performance.now() - t0 < 3000, true);
  await s.child.status;
});

Deno.test("waitForExit treats a different start time as already gone", async () => {
  const s = await startSleeper();
  try {
    await waitForExit({ pid: s.pid, startTime: "1" });
  } finally {
    s.child.kill("SIGKILL");
    await s.child.status;
  }
});

Deno.test("the /proc polling fallback also sees an outside SIGKILL", async () => {
  const s = await startSleeper();
  const done = waitForExit({ pid: s.pid, startTime: s.startTime }, undefined, { pidfd: false });
  setTimeout(() => Deno.kill(s.pid, "SIGKILL"), 100);
  await done;
  await s.child.status;
});

Deno.test("waitForExit rejects when aborted while the process lives", async () => {
  const s = await startSleeper();
  const ac = new AbortController();
  try {
    const done = waitForExit({ pid: s.pid, startTime: s.startTime }, ac.signal, { pidfd: false });
    ac.abort(new Error("stop watching"));
    let err: unknown;
    await done.catch((e) => err = e);
    assertEquals(String(err), "Error: stop watching");
  } finally {
    s.child.kill("SIGKILL");
    await s.child.status;
  }
});
