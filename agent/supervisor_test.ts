/**
 * Supervision with real child processes (busybox sh scripts) on the host.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Supervisor, type SupervisorOptions } from "./supervisor.ts";
import { ChildTracker } from "./child_tracker.ts";
import { MemoryConsole } from "./console.ts";
import type { WorkloadSpec } from "./workload_spec.ts";
import { DEFAULT_PATH, findSetsid, type SetsidHelper } from "./workload_spec.ts";
import { TIMED_OUT, within } from "./timeout.ts";

function spec(
  script: string,
  restart: WorkloadSpec["restart"] = "on-failure",
  setsid: SetsidHelper | null = null,
): WorkloadSpec {
  return {
    command: "/bin/sh",
    args: ["-c", script],
    env: { PATH: DEFAULT_PATH },
    cwd: "/",
    restart,
    setsid,
  };
}

/** Both ways to a new session: Deno's detached, and the setsid helper kestrel prefers. */
function sessionModes(): [string, SetsidHelper | null][] {
  const helper = findSetsid();
  if (!helper) {
    throw new Error("no setsid helper: apt-get install -y busybox-static (or util-linux)");
  }
  return [["detached", null], [`helper ${helper.command}`, helper]];
}

function make(s: WorkloadSpec, extra: Partial<SupervisorOptions> = {}) {
  const console = new MemoryConsole();
  const tracker = new ChildTracker();
  const sup = new Supervisor(s, {
    console,
    tracker,
    backoff: { initialMs: 20, maxMs: 80, resetAfterMs: 5_000, maxQuickFailures: 3 },
    ...extra,
  });
  return { sup, console, tracker };
}

async function until(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const [mode, helper] of sessionModes()) {
  Deno.test(`supervisor (${mode}): starts the workload in its own process group, tees output`, async () => {
    const { sup, console, tracker } = make(
      spec('echo "out $$"; echo err >&2; exec sleep 30', "on-failure", helper),
    );
    sup.start();
    await until("output", () => sup.logs.text().includes("err"));
    const pid = sup.pid!;
    assert(tracker.has(pid));
    assertEquals(sup.state, "running");
    // setsid: the workload leads its own group (pgid = pid, field 5 of /proc/pid/stat).
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    assertEquals(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]), pid);
    assert(sup.logs.text().includes(`out ${pid}`));
    assert(console.rawText().includes(`out ${pid}`), "output reaches the console too");
    assertEquals(await sup.stop(2_000), "terminated");
    assertEquals(sup.state, "stopped");
    assert(!tracker.has(pid));
    assertEquals(sup.lastExit?.signal, "SIGTERM");
  });
}

Deno.test("supervisor: on-failure restarts a crashing workload with backoff, then gives up", async () => {
  const { sup, console } = make(spec("echo run; exit 3"));
  sup.start();
  await within(sup.done, 5_000);
  assertEquals(sup.state, "failed");
  assertEquals(sup.restarts, 3, "maxQuickFailures=3: three restarts, then give up");
  assertEquals(sup.lastExit?.code, 3);
  assertEquals(sup.logs.text().split("run").length - 1, 4);
  assert(console.lines.some((l) => l.includes("restarting in 20 ms")));
  assert(console.lines.some((l) => l.includes("restarting in 40 ms")), "backoff doubles");
  assert(console.lines.some((l) => l.includes("gave up")));
});

Deno.test("supervisor: on-failure does not restart a clean exit; always does", async () => {
  const clean = make(spec("exit 0"));
  clean.sup.start();
  await within(clean.sup.done, 5_000);
  assertEquals(clean.sup.state, "exited");
  assertEquals(clean.sup.restarts, 0);

  const always = make(spec("exit 0", "always"));
  always.sup.start();
  await until("two restarts", () => always.sup.restarts >= 2);
  await always.sup.stop(1_000);
  assert(always.sup.restarts >= 2);
});

Deno.test("supervisor: never does not restart a crash", async () => {
  const { sup } = make(spec("exit 7", "never"));
  sup.start();
  await within(sup.done, 5_000);
  assertEquals(sup.state, "exited");
  assertEquals(sup.restarts, 0);
  assertEquals(sup.lastExit?.code, 7);
});

Deno.test("supervisor: a crash after a restart restarts again (killed by a signal)", async () => {
  const { sup } = make(spec("exec sleep 30"));
  sup.start();
  await until("first run", () => sup.pid !== null);
  const first = sup.pid!;
  Deno.kill(first, "SIGKILL");
  await until("second run", () => sup.pid !== null && sup.pid !== first);
  assertEquals(sup.restarts, 1);
  assertEquals(sup.lastExit?.signal, "SIGKILL");
  await sup.stop(2_000);
});

for (const [mode, helper] of sessionModes()) {
  Deno.test(`supervisor (${mode}): SIGTERM ignored -> SIGKILL after the timeout, whole group gone`, async () => {
    const { sup, console } = make(
      spec("trap '' TERM; sleep 30 & echo child $!; wait", "on-failure", helper),
    );
    sup.start();
    await until("child pid", () => /child \d+/.test(sup.logs.text()));
    const grandchild = Number(/child (\d+)/.exec(sup.logs.text())![1]);
    const t = performance.now();
    assertEquals(await sup.stop(300), "killed");
    const took = performance.now() - t;
    assert(took >= 290 && took < 3_000, `stop took ${took} ms`);
    assert(console.lines.some((l) => l.includes("SIGKILL")));
    // The background sleep was in the group and got the SIGKILL too (reaped by init on the host).
    await until("grandchild gone", () => {
      try {
        return Deno.readTextFileSync(`/proc/${grandchild}/stat`).includes(") Z ");
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return true;
        throw e;
      }
    });
  });
}

Deno.test("supervisor: a missing program is a failed run, restarted per policy", async () => {
  const s: WorkloadSpec = { ...spec(""), command: "/nonexistent/prog", restart: "on-failure" };
  const { sup, console } = make(s);
  sup.start();
  assert((await within(sup.done, 5_000)) !== TIMED_OUT);
  assertEquals(sup.state, "failed");
  assert(sup.lastError?.includes("/nonexistent/prog"));
  assert(console.lines.some((l) => l.includes("failed to start")));
});

Deno.test("supervisor: the ring buffer is bounded", async () => {
  const { sup } = make(
    spec("i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done", "never"),
    {
      logBytes: 1024,
    },
  );
  sup.start();
  await within(sup.done, 5_000);
  await until("last line", () => sup.logs.text().includes("line-1999"));
  assertEquals(sup.logs.length, 1024);
  assert(sup.logs.totalWritten > 10_000);
  assertEquals(sup.logs.text(1), "line-1999\n");
});
