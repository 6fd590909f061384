/**
 * Deployment benchmarks, real QEMU boots in a sandbox netns (as the e2e tests):
 *
 * 1. convergence: a deployment of CONV_N replicas (default 10), time until all
 *    are healthy; against CONV_N single `vms create`s in a row (each waited
 *    until healthy) and against the slowest single replica inside the
 *    deployment (vm.created -> vm.healthy). How well the cores are used.
 * 2. density: a deployment of DENSITY_N idle replicas (default 50): time to
 *    all healthy, replacements on the way, host memory per replica (QEMU RSS
 *    and PSS, plus the page cache the shared kernel/initramfs/agent image
 *    pin, split over the replicas), daemon RSS, CPU used while idle (10 s),
 *    API list latency at that size. Volant's documents claim 50-100 VMs per
 *    host and about 25 MB per VM: the report compares.
 *
 * Run: deno run -A bench/deployments_bench.ts
 *      CONV_N=10 DENSITY_N=50 MEMORY_MB=128 ONLY=convergence|density SEQ=0
 *
 * @module
 */
import { prepareHost } from "../scripts/journey/prepare.ts";
import { Sandbox } from "../scripts/journey/sandbox.ts";

function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = Deno.env.get(name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    console.error(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
    Deno.exit(2);
  }
  return Number(raw);
}

const CONV_N = envInt("CONV_N", 10, 1, 100);
const DENSITY_N = envInt("DENSITY_N", 50, 1, 250);
const MEMORY_MB = envInt("MEMORY_MB", 128, 64, 4096);
const ONLY = Deno.env.get("ONLY");
/** SEQ=0 skips the sequential arm of the convergence section (it takes the longest). */
const SEQ = Deno.env.get("SEQ") !== "0";
if (ONLY !== undefined && ONLY !== "convergence" && ONLY !== "density") {
  console.error(`ONLY must be convergence or density, got '${ONLY}'`);
  Deno.exit(2);
}

interface Vm {
  name: string;
  state: string;
  health: string;
}
interface Deployment {
  ready: number;
  replica_status: { name: string }[];
}
interface Event {
  type: string;
  resource: string;
  time: string;
  data: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => Math.round(ms / 100) / 10;

async function must(sb: Sandbox, args: string[]): Promise<string> {
  const r = await sb.volar(args);
  if (r.code !== 0) throw new Error(`volar ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function events(sb: Sandbox, types: string): Promise<Event[]> {
  const out = await must(sb, ["events", "--type", types, "--limit", "10000", "-o", "json"]);
  return out.trim() === "" ? [] : out.trim().split("\n").map((l) => JSON.parse(l) as Event);
}

/** Slowest replica of `prefix`: vm.created -> vm.healthy, ms. */
async function slowestReplica(sb: Sandbox, prefix: string): Promise<number> {
  const evs = await events(sb, "vm.created,vm.healthy");
  const created = new Map<string, number>();
  let slowest = 0;
  for (const e of evs) {
    if (!e.resource.startsWith(prefix)) continue;
    if (e.type === "vm.created") created.set(e.resource, Date.parse(e.time));
    else if (created.has(e.resource)) {
      slowest = Math.max(slowest, Date.parse(e.time) - created.get(e.resource)!);
    }
  }
  return slowest;
}

async function waitHealthy(sb: Sandbox, name: string): Promise<void> {
  const deadline = Date.now() + 600_000;
  while (Date.now() < deadline) {
    const vm = await sb.volarJson<Vm>(["vms", "show", name]);
    if (vm.state === "running" && vm.health === "healthy") return;
    if (vm.state === "crashed" || vm.health === "unhealthy") {
      throw new Error(`${name} failed: ${JSON.stringify(vm)}`);
    }
    await sleep(250);
  }
  throw new Error(`${name} not healthy in 600 s`);
}

async function convergence(sb: Sandbox, config: string) {
  console.log(`\n-- convergence: ${CONV_N} replicas of ${MEMORY_MB} MiB`);
  let t0 = performance.now();
  await must(sb, [
    "deployments",
    "create",
    "conv",
    "--config",
    config,
    "--replicas",
    String(CONV_N),
    "--wait",
    "--timeout",
    "1800",
  ]);
  const deployMs = performance.now() - t0;
  const slowestMs = await slowestReplica(sb, "conv-");
  const replaced = (await events(sb, "deployment.replica_replaced")).length;
  await must(sb, ["deployments", "delete", "conv", "--wait", "--timeout", "600"]);
  console.log(`deployment of ${CONV_N}: all healthy in ${secs(deployMs)} s (${replaced} replaced)`);
  console.log(`slowest single replica inside it: ${secs(slowestMs)} s`);

  const base = {
    replicas: CONV_N,
    deployment_s: secs(deployMs),
    slowest_single_s: secs(slowestMs),
    replaced,
  };
  if (!SEQ) return base;
  t0 = performance.now();
  for (let i = 1; i <= CONV_N; i++) {
    await must(sb, [
      "vms",
      "create",
      `seq-${i}`,
      "--plugin",
      "static-http",
      "--memory",
      String(MEMORY_MB),
    ]);
    await waitHealthy(sb, `seq-${i}`);
  }
  const seqMs = performance.now() - t0;
  for (let i = 1; i <= CONV_N; i++) await must(sb, ["vms", "delete", `seq-${i}`, "--grace", "2"]);
  console.log(
    `${CONV_N} single creates in a row: ${secs(seqMs)} s (${secs(seqMs / CONV_N)} s each)`,
  );
  console.log(
    `deployment vs sequential: ${(seqMs / deployMs).toFixed(2)}x faster; ` +
      `deployment / slowest single: ${(deployMs / slowestMs).toFixed(2)}`,
  );
  return {
    ...base,
    sequential_s: secs(seqMs),
    speedup: Math.round((seqMs / deployMs) * 100) / 100,
  };
}

async function kib(pid: number, file: "status" | "smaps_rollup", field: string): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/${file}`);
  return Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
}

/** utime + stime of a process, in clock ticks. */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

async function qemuPids(sb: Sandbox): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (cmd.includes(`${sb.runtimeDir}/`) && cmd.includes("qemu")) pids.push(Number(e.name));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return pids;
}

/** Resident page-cache bytes of `path` (util-linux fincore), or 0 when unknown. */
async function cached(path: string): Promise<number> {
  const out = await new Deno.Command("fincore", {
    args: ["--bytes", "--noheadings", "--raw", "--output", "RES", path],
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => null);
  if (!out?.success) return 0;
  return Number(new TextDecoder().decode(out.stdout).trim()) || 0;
}

async function latency(sb: Sandbox, path: string, runs = 20) {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: sb.socket } });
  const ms: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const res = await fetch(`http://volantd${path}`, { client });
      await res.arrayBuffer();
      ms.push(performance.now() - t);
    }
  } finally {
    client.close();
  }
  ms.sort((a, b) => a - b);
  return {
    p50_ms: Math.round(ms[runs >> 1] * 10) / 10,
    p95_ms: Math.round(ms[Math.floor(runs * 0.95)] * 10) / 10,
  };
}

async function density(sb: Sandbox, config: string, shared: string[]) {
  console.log(`\n-- density: ${DENSITY_N} idle replicas of ${MEMORY_MB} MiB`);
  const t0 = performance.now();
  const r = await sb.volar([
    "deployments",
    "create",
    "dense",
    "--config",
    config,
    "--replicas",
    String(DENSITY_N),
    "--wait",
    "--timeout",
    "3600",
  ]);
  const convergeMs = performance.now() - t0;
  const d = await sb.volarJson<Deployment>(["deployments", "show", "dense"]);
  const replaced = (await events(sb, "deployment.replica_replaced"))
    .filter((e) => e.resource === "dense").length;
  console.log(
    `${d.ready}/${DENSITY_N} healthy after ${secs(convergeMs)} s${
      r.code === 0 ? "" : ` (volar exit ${r.code}: ${r.stderr.trim().split("\n").at(-1)})`
    }; ${replaced} replaced on the way`,
  );
  await sleep(10_000);
  const pids = await qemuPids(sb);
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    rss += await kib(pid, "status", "VmRSS");
    pss += await kib(pid, "smaps_rollup", "Pss");
  }
  let cache = 0;
  for (const f of shared) cache += await cached(f);
  const daemonPid = sb.daemonPid!;
  const daemonRssKiB = await kib(daemonPid, "status", "VmRSS");
  // Idle CPU over 10 s: every VMM plus the daemon, in % of one core.
  const hz = 100;
  const before = await Promise.all([...pids, daemonPid].map(cpuTicks));
  const w0 = performance.now();
  await sleep(10_000);
  const after = await Promise.all([...pids, daemonPid].map(cpuTicks));
  const wallS = (performance.now() - w0) / 1000;
  const pct = (i: number) => ((after[i] - before[i]) / hz / wallS) * 100;
  const qemuPct = pids.reduce((s, _, i) => s + pct(i), 0);
  const daemonPct = pct(pids.length);
  const listD = await latency(sb, "/api/v1/deployments");
  const listV = await latency(sb, "/api/v1/vms?limit=1000");
  const n = Math.max(1, pids.length);
  const perReplicaMiB = (pss / n + cache / 1024 / n) / 1024;
  console.log(
    `VMMs: ${pids.length}; RSS ${Math.round(rss / n / 1024)} MiB each, PSS ${
      Math.round(pss / n / 1024)
    } MiB each`,
  );
  console.log(
    `shared page cache (kernel, initramfs, agent image): ${Math.round(cache / 1048576)} MiB = ${
      (cache / 1048576 / n).toFixed(1)
    } MiB per replica`,
  );
  console.log(
    `host memory per replica (PSS + cache share): ${
      perReplicaMiB.toFixed(1)
    } MiB (Volant claims ~25 MB)`,
  );
  console.log(`daemon RSS: ${Math.round(daemonRssKiB / 1024)} MiB`);
  console.log(
    `idle CPU over ${wallS.toFixed(1)} s: VMMs ${qemuPct.toFixed(1)}% of a core (${
      (qemuPct / n).toFixed(2)
    }% each), daemon ${daemonPct.toFixed(1)}%`,
  );
  console.log(
    `GET /deployments p50 ${listD.p50_ms} ms p95 ${listD.p95_ms} ms; GET /vms?limit=1000 p50 ${listV.p50_ms} ms p95 ${listV.p95_ms} ms`,
  );
  const t1 = performance.now();
  await must(sb, ["deployments", "delete", "dense", "--wait", "--timeout", "1800"]);
  const deleteMs = performance.now() - t1;
  console.log(`delete of ${DENSITY_N}: ${secs(deleteMs)} s`);
  return {
    replicas: DENSITY_N,
    healthy: d.ready,
    converge_s: secs(convergeMs),
    replaced,
    vmm_rss_mib_each: Math.round(rss / n / 1024),
    vmm_pss_mib_each: Math.round(pss / n / 1024),
    shared_cache_mib: Math.round(cache / 1048576),
    host_mib_per_replica: Math.round(perReplicaMiB * 10) / 10,
    daemon_rss_mib: Math.round(daemonRssKiB / 1024),
    idle_cpu_pct_vmms: Math.round(qemuPct * 10) / 10,
    idle_cpu_pct_daemon: Math.round(daemonPct * 10) / 10,
    list_deployments: listD,
    list_vms: listV,
    delete_s: secs(deleteMs),
  };
}

const artifacts = await prepareHost();
const sb = await Sandbox.create({ artifacts, prefix: "volant-bdep" });
const result: Record<string, unknown> = { memory_mb: MEMORY_MB };
try {
  await sb.startDaemon();
  await sb.installExample();
  const plugin = await sb.volarJson<{ artifacts: { path: string }[] }>([
    "plugins",
    "show",
    "static-http",
  ]);
  const config = `${sb.dir}/bench-config.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({ plugin: "static-http", resources: { cpu_cores: 1, memory_mb: MEMORY_MB } }),
  );
  if (ONLY !== "density") result.convergence = await convergence(sb, config);
  if (ONLY !== "convergence") {
    result.density = await density(sb, config, [
      artifacts.kernel,
      artifacts.agentImage,
      ...plugin.artifacts.map((a) => a.path),
    ]);
  }
} finally {
  await sb.volar(["deployments", "delete", "conv"]);
  await sb.volar(["deployments", "delete", "dense"]);
  await sb.close();
}
console.log(`BENCH_JSON ${JSON.stringify(result)}`);
