/**
 * volar and its client against the real daemon (--no-host-network) on a
 * real unix socket with 200 VM rows (created, not booted):
 * - client: sequential `listVms({limit: 200})` and `getVm` calls, each a plain
 *   HTTP/1.1 exchange checked against the response's JSON Schema
 *   (requests/s, p50/p99 ms);
 * - volar as a process from source (`deno run src/main.ts`): wall time of
 *   `volar --version` and `volar vms list` (median of 5; dominated by Deno
 *   start-up and module loading; bench/release_bench.ts measures the
 *   installed program).
 *
 * Run alone: `deno run -A bench/cli_bench.ts`.
 *
 * @module
 */
import { writePlugin } from "../src/api/testing/fixtures.ts";
import { createClient } from "../src/client/mod.ts";
import { runVolar } from "../src/cli/testing.ts";
import { startDaemonProcess } from "../src/daemon/testing/harness.ts";

const VMS = 200;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function timeCalls(n: number, call: () => Promise<unknown>) {
  const times: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await call();
    times.push(performance.now() - s);
  }
  const total = performance.now() - t0;
  times.sort((a, b) => a - b);
  return {
    rps: Math.round(n / (total / 1000)),
    p50_ms: Number(percentile(times, 0.5).toFixed(2)),
    p99_ms: Number(percentile(times, 0.99).toFixed(2)),
  };
}

async function medianWall(args: string[], env: Record<string, string>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    const r = await runVolar(args, { env });
    if (r.code !== 0) throw new Error(`volar ${args.join(" ")} failed: ${r.stderr}`);
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  return Math.round(times[2]);
}

const d = await startDaemonProcess();
const client = createClient({ socket: d.socket });
try {
  await client.installPlugin({ path: await writePlugin(d.dir, "web"), allow_unverified: false });
  for (let i = 0; i < VMS; i++) {
    await client.createVm({ name: `vm${i}`, plugin: "web", start: false });
  }
  await timeCalls(20, () => client.listVms({ limit: VMS })); // warm-up
  const list = await timeCalls(200, () => client.listVms({ limit: VMS }));
  const get = await timeCalls(1000, () => client.getVm("vm7"));
  const env = { VOLANT_SOCKET: d.socket };
  const version = await medianWall(["--version"], env);
  const vmsList = await medianWall(["vms", "list", "--limit", String(VMS)], env);
  console.log(
    `client listVms (${VMS} rows): ${list.rps} req/s, p50 ${list.p50_ms} ms, p99 ${list.p99_ms} ms`,
  );
  console.log(`client getVm: ${get.rps} req/s, p50 ${get.p50_ms} ms, p99 ${get.p99_ms} ms`);
  console.log(`volar --version: ${version} ms wall (median of 5)`);
  console.log(`volar vms list (${VMS} rows): ${vmsList} ms wall (median of 5)`);
  console.log(
    "BENCH_JSON " + JSON.stringify({
      client_list_vms: { rows: VMS, ...list },
      client_get_vm: get,
      volar_version_wall_ms: version,
      volar_vms_list_wall_ms: vmsList,
    }),
  );
} finally {
  client.close();
  await d.stop();
  await d.cleanup();
}
