/**
 * kestrel start -> workload spawned, measured natively on the host (target
 * <= 30 ms). Two views:
 *
 * 1. in-process: `Kestrel.boot()` entered -> workload spawned (cmdline parse,
 *    manifest decode + validation, API listening, spec, spawn). Cold = the
 *    first boot in a fresh process (nothing JIT-compiled yet), then warm runs.
 * 2. whole process: the bundled kestrel (`deno bundle agent/main.ts`, as in the
 *    guest) run with `deno run -A`; kestrel's own timings from /v1/status:
 *    boot entered and workload spawned, in ms since the Deno process started.
 *
 * Run: deno run -A bench/kestrel_bench.ts
 *
 * @module
 */
import { encodeManifest } from "../src/manifest/cmdline.ts";
import type { PluginManifest } from "../src/manifest/plugin.ts";
import { Kestrel } from "../agent/kestrel.ts";
import { MemoryConsole } from "../agent/console.ts";

const ROUNDS = 9;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const manifest = {
  name: "bench",
  version: "1.0.0",
  resources: { cpu_cores: 1, memory_mb: 128 },
  initramfs: { url: "https://example.com/bench.cpio.gz" },
  workload: {
    type: "http",
    base_url: "http://127.0.0.1:1",
    entrypoint: ["sleep", "30"],
    env: { MODE: "bench" },
  },
  health_check: { endpoint: "/health", timeout_ms: 1_000 },
} as unknown as PluginManifest;
const cmdline = `console=ttyS0 panic=-1 volant.manifest=${await encodeManifest(manifest)}`;

async function inProcess(): Promise<number> {
  const k = new Kestrel({
    cmdline,
    pid1: false,
    console: new MemoryConsole(),
    apiHost: "127.0.0.1",
    apiPort: 0,
    stopTimeoutMs: 1_000,
    exit: () => {},
  });
  await k.boot();
  const spawned = k.state.timings.workload_spawned - k.state.timings.boot;
  if (!(spawned >= 0)) {
    throw new Error(`workload did not spawn: ${JSON.stringify(k.state.timings)}`);
  }
  await k.shutdown("bench round done");
  return spawned;
}

async function bundle(): Promise<string> {
  const out = await Deno.makeTempFile({ suffix: ".js" });
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", out, "agent/main.ts"],
    cwd: new URL("..", import.meta.url).pathname,
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`deno bundle: ${new TextDecoder().decode(r.stderr)}`);
  return out;
}

async function wholeProcess(js: string): Promise<Record<string, number>> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", js, "--cmdline", cmdline, "--host", "127.0.0.1", "--port", String(port)],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let i = 0; i < 500; i++) {
      try {
        const st = await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json();
        const t = st.boot.timings_ms;
        if (t.workload_spawned !== undefined) return t;
      } catch (e) {
        if (!(e instanceof TypeError)) throw e; // not listening yet
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error("bundled kestrel never spawned its workload");
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

const warm: number[] = [];
const cold = await inProcess();
for (let i = 0; i < ROUNDS; i++) warm.push(await inProcess());
console.log(
  `in-process boot() -> workload spawned: cold ${cold.toFixed(1)} ms, warm median ${
    median(warm).toFixed(1)
  } ms (n=${ROUNDS})`,
);

const js = await bundle();
const procs: Record<string, number>[] = [];
try {
  for (let i = 0; i < 7; i++) procs.push(await wholeProcess(js));
} finally {
  await Deno.remove(js);
}
const seg = (from: string, to: string) => median(procs.map((p) => p[to] - p[from]));
const procStart = seg("boot", "workload_spawned");
const fromExec = median(procs.map((p) => p.workload_spawned));
console.log(
  `bundled kestrel process: boot() -> workload spawned median ${procStart.toFixed(1)} ms ` +
    `(cmdline ${seg("boot", "cmdline").toFixed(1)}, signals ${
      seg("cmdline", "signals").toFixed(1)
    }, ` +
    `manifest ${seg("signals", "manifest").toFixed(1)}, spawn ${
      seg("manifest", "workload_spawned").toFixed(1)
    }); Deno process start -> workload spawned median ${fromExec.toFixed(1)} ms (n=7)`,
);
const target = 30;
console.log(
  `target: kestrel start -> workload spawned <= ${target} ms: ${
    procStart <= target ? "met" : "NOT met"
  }`,
);
const loadavg = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
console.log(`host load average at the end: ${loadavg} (2 cores; cold wall times scale with it)`);
console.log(
  "BENCH_JSON " + JSON.stringify({
    area: "kestrel",
    loadavg,
    start_to_spawn_ms_inprocess_cold: Number(cold.toFixed(1)),
    start_to_spawn_ms_inprocess_warm_median: Number(median(warm).toFixed(1)),
    start_to_spawn_ms_bundle_median: Number(procStart.toFixed(1)),
    process_start_to_spawn_ms_bundle_median: Number(fromExec.toFixed(1)),
    target_ms: target,
    target_met: procStart <= target,
  }),
);
