/**
 * The agent's exec endpoint and its key gate over a real socket on 127.0.0.1,
 * spawning real processes (host mode: kestrel is not PID 1 here).
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { createApiHandler } from "./api.ts";
import { agentGate, sameSecret } from "./auth.ts";
import { ChildTracker } from "./child_tracker.ts";
import { newState } from "./state.ts";
import { AGENT_KEY_HEADER } from "../src/manifest/cmdline.ts";
import type { ExecExitFrame, ExecFrame } from "../src/manifest/exec.ts";

const KEY = "k".repeat(20) + "_-0123456789abcdef";

function serve(refusals: string[], tracker = new ChildTracker()) {
  const handler = createApiHandler(newState("t", "host"), {
    gate: agentGate(KEY, (l) => refusals.push(l)),
    exec: { tracker },
  });
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
}

async function exec(port: number, body: unknown, key = KEY) {
  const res = await fetch(`http://127.0.0.1:${port}/agent/v1/exec`, {
    method: "POST",
    headers: { "content-type": "application/json", [AGENT_KEY_HEADER]: key },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) return { status: res.status, problem: await res.json() };
  const frames = (await res.text()).trim().split("\n").map((l) => JSON.parse(l) as ExecFrame);
  const out: Record<string, number[]> = { stdout: [], stderr: [] };
  let exit: ExecExitFrame | undefined;
  for (const f of frames) {
    if ("stream" in f) out[f.stream].push(...Uint8Array.fromBase64(f.data));
    else exit = f;
  }
  const text = (b: number[]) => new TextDecoder().decode(new Uint8Array(b));
  return {
    status: 200,
    stdout: text(out.stdout),
    stderr: text(out.stderr),
    bytes: out.stdout.length,
    exit,
  };
}

Deno.test("agent gate: sameSecret", () => {
  assert(sameSecret("abc", "abc"));
  assert(!sameSecret("abc", "abd"));
  assert(!sameSecret("abc", "abcd"));
  assert(!sameSecret("", "a"));
});

Deno.test("agent gate: every path answers 401 without the key, and refusals are logged", async () => {
  const refusals: string[] = [];
  const server = serve(refusals);
  const port = server.addr.port;
  try {
    for (const path of ["/healthz", "/v1/status", "/v1/logs", "/v1/anything", "/agent/v1/exec"]) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      assertEquals(res.status, 401, path);
      assertEquals((await res.json()).status, 401);
    }
    const wrong = await fetch(`http://127.0.0.1:${port}/v1/status`, {
      headers: { [AGENT_KEY_HEADER]: KEY.slice(1) + "x" },
    });
    assertEquals(wrong.status, 401);
    await wrong.body?.cancel();
    const right = await fetch(`http://127.0.0.1:${port}/v1/status`, {
      headers: { [AGENT_KEY_HEADER]: KEY },
    });
    assertEquals(right.status, 200);
    await right.body?.cancel();
    assertEquals(refusals.length, 6);
    assert(refusals[0].startsWith("api: refused GET /healthz from 127.0.0.1:"), refusals[0]);
    assert(refusals[5].endsWith("wrong agent key"), refusals[5]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("agent exec: exit codes, stdout/stderr apart, stdin, env, cwd, bad input", async () => {
  const tracker = new ChildTracker();
  const server = serve([], tracker);
  const port = server.addr.port;
  try {
    const r = await exec(port, {
      argv: ["sh", "-c", 'echo out; echo err >&2; echo "$FOO"; pwd; exit 7'],
      env: { FOO: "bar" },
      cwd: "/tmp",
    });
    assertEquals(r.status, 200);
    assertEquals(r.stdout, "out\nbar\n/tmp\n");
    assertEquals(r.stderr, "err\n");
    assertEquals(r.exit?.exit_code, 7);
    assertEquals(r.exit?.timed_out, false);

    const cat = await exec(port, {
      argv: ["cat"],
      stdin: new TextEncoder().encode("hi\0there").toBase64(),
    });
    assertEquals(cat.stdout, "hi\0there");
    assertEquals(cat.exit?.exit_code, 0);

    const noStdin = await exec(port, { argv: ["cat"] });
    assertEquals(noStdin.stdout, "");

    const missing = await exec(port, { argv: ["no-such-program-xyz"] });
    assertEquals(missing.status, 400);
    assertEquals(missing.problem.problems[0].field, "argv.0");
    const badCwd = await exec(port, { argv: ["true"], cwd: "/no/such/dir" });
    assertEquals(badCwd.problem.problems[0].field, "cwd");
    const badBody = await exec(port, { argv: [] });
    assertEquals(badBody.problem.problems[0].field, "argv");
    const extra = await exec(port, { argv: ["true"], shell: true });
    assertEquals(extra.status, 400);
    assertEquals(tracker.size, 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("agent exec: 10 MiB of output arrives whole", async () => {
  const server = serve([]);
  try {
    const r = await exec(server.addr.port, {
      argv: ["sh", "-c", "head -c 10485760 /dev/zero | tr '\\0' x"],
    });
    assertEquals(r.bytes, 10 * 1024 * 1024);
    assertEquals(r.exit?.exit_code, 0);
  } finally {
    await server.shutdown();
  }
});

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/\) Z /.test(stat);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * A shell line that starts `sleep 30` in a process group of its own (as a
 * job-control shell does with each job; perl-base is part of every Debian)
 * and a plain background `sleep 30`, and returns once both pids are written.
 */
function jobs(dir: string): string {
  const own = `perl -e 'setpgrp(0, 0); open(my $f, ">", "${dir}/own.tmp") or die; ` +
    `print $f "$$ ", getpgrp(); close($f); rename("${dir}/own.tmp", "${dir}/own"); ` +
    `exec("sleep", "30")' </dev/null >/dev/null 2>&1 &`;
  return `${own} sleep 30 & echo $! > ${dir}/bg; ` +
    `while [ ! -e ${dir}/own ]; do sleep 0.01; done`;
}

/** The pids left by {@linkcode jobs}; checks the own-group job really has its own group. */
async function jobPids(dir: string): Promise<number[]> {
  const [own, pgid] = (await Deno.readTextFile(`${dir}/own`)).split(" ").map(Number);
  assertEquals(own, pgid, "the perl job did not get a process group of its own");
  return [own, Number(await Deno.readTextFile(`${dir}/bg`))];
}

Deno.test("agent exec: a timeout kills the whole session, jobs in other groups too", async () => {
  const server = serve([]);
  const dir = await Deno.makeTempDir();
  try {
    const r = await exec(server.addr.port, {
      argv: ["sh", "-c", `${jobs(dir)}; sleep 30`],
      timeout_ms: 1_500,
    });
    assertEquals(r.exit?.timed_out, true);
    assertEquals(r.exit?.signal, "SIGKILL");
    // Killed before the exit frame was sent: nothing to wait for.
    for (const pid of await jobPids(dir)) assert(!alive(pid), `job ${pid} survived the timeout`);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent exec: jobs left behind by a process that exited are killed", async () => {
  const server = serve([]);
  const dir = await Deno.makeTempDir();
  try {
    const r = await exec(server.addr.port, { argv: ["sh", "-c", `${jobs(dir)}; exit 3`] });
    assertEquals(r.exit?.exit_code, 3);
    for (const pid of await jobPids(dir)) assert(!alive(pid), `job ${pid} outlived its session`);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent exec: the host going away kills the process and its jobs", async () => {
  const server = serve([]);
  const dir = await Deno.makeTempDir();
  try {
    const ac = new AbortController();
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/agent/v1/exec`, {
      method: "POST",
      headers: { [AGENT_KEY_HEADER]: KEY },
      body: JSON.stringify({
        argv: ["sh", "-c", `echo $$ > ${dir}/leader; ${jobs(dir)}; echo up; sleep 30`],
      }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    await reader.read(); // "up": the process and its jobs run
    ac.abort();
    await reader.cancel().catch((e) => assert(e instanceof DOMException, String(e)));
    const pids = [Number(await Deno.readTextFile(`${dir}/leader`)), ...await jobPids(dir)];
    const deadline = Date.now() + 5_000;
    while (pids.some(alive) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const pid of pids) assert(!alive(pid), `process ${pid} survived its session`);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
