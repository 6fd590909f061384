/**
 * Snapshots and warm starts, measured through a real volantd (QEMU, jail on)
 * in a network namespace, with the counter guest of
 * tests/e2e/_snapshot_fixture.ts (our kernel + busybox as init answering
 * HTTP on :8080, 256 MiB guests):
 *
 * - cold = the busybox floor: `POST /vms` -> first HTTP answer through the
 *   agent proxy. The guest is the same kernel with busybox as init, so no
 *   cold boot of a guest with a runtime in it can be faster.
 * - snapshot: `POST /vms/{vm}/snapshots {stop:true}` wall time, the guest's
 *   pause, the size (apparent and allocated: the RAM image is sparse).
 * - warm: the plugin's ready snapshot (`POST /plugins/counter/warm`, timed),
 *   then `POST /vms` -> first HTTP answer for N clones (restore, copy-on-write
 *   RAM, identity hand-off).
 * - memory: host PSS (/proc/<pid>/smaps_rollup, shared pages split between
 *   sharers) of N cold QEMUs vs N warm clones, each set alone.
 *
 * Targets: warm <= 0.2x cold, warm below the busybox floor.
 *
 * Run alone: `deno run -A bench/snapshot_bench.ts` (root; needs the kernel
 * from `deno task kernel`, qemu-system-x86, busybox-static, musl-tools).
 * `SNAP_BENCH_N` (default 10) VMs per set.
 *
 * @module
 */
import { post, startSnapDaemon, until } from "../tests/e2e/_snapshot_fixture.ts";

type Vm = { name: string; state: string; pid: number };
type Snap = { size_bytes: number; pause_ms: number; name: string; vm: string };

const N = Number(Deno.env.get("SNAP_BENCH_N") ?? 10);
const MEM = 256;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Proportional set size of a process, KiB (shared pages split between sharers). */
async function pssKib(pid: number): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
  return Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? 0);
}

/** Sum of PSS over `pids`, MiB, once the guests went idle (memory settles after boot). */
async function pssMib(pids: number[]): Promise<number> {
  await new Promise((r) => setTimeout(r, 3000));
  let kib = 0;
  for (const pid of pids) kib += await pssKib(pid);
  return kib / 1024;
}

/** Bytes a snapshot dir really takes on disk (`du`: holes of the RAM image are free). */
async function allocatedBytes(dir: string): Promise<number> {
  const out = await new Deno.Command("du", { args: ["-s", "-B1", dir], stdout: "piped" }).output();
  return Number(new TextDecoder().decode(out.stdout).split(/\s/)[0]);
}

const d = await startSnapDaemon([], { memoryMb: MEM });
try {
  const answer = (vm: string) =>
    until(`${vm} answers`, async () => {
      const res = await d.fetch(`/api/v1/vms/${vm}/agent/healthz`);
      await res.body?.cancel();
      return res.ok ? true : undefined;
    }, 180_000);
  const remove = async (names: string[]) => {
    for (const name of names) {
      const res = await d.fetch(`/api/v1/vms/${name}`, { method: "DELETE" });
      await res.body?.cancel();
    }
  };

  // Cold: N VMs, one after another (they would compete for the cores otherwise).
  const cold: number[] = [];
  const coldPids: number[] = [];
  const coldNames = Array.from({ length: N }, (_, i) => `c${i}`);
  for (const name of coldNames) {
    const t0 = performance.now();
    const vm = await d.json<Vm>("/api/v1/vms", post({ name, plugin: "counter" }));
    await answer(name);
    cold.push(performance.now() - t0);
    coldPids.push(vm.pid);
  }
  const coldPss = await pssMib(coldPids);

  // Snapshot time and size: three of the cold VMs, stopped after the save.
  const snapMs: number[] = [];
  const pauseMs: number[] = [];
  const sizes: number[] = [];
  const allocated: number[] = [];
  for (const name of coldNames.slice(0, 3)) {
    const t0 = performance.now();
    const s = await d.json<Snap>(`/api/v1/vms/${name}/snapshots`, post({ name: "s", stop: true }));
    snapMs.push(performance.now() - t0);
    pauseMs.push(s.pause_ms);
    sizes.push(s.size_bytes);
    allocated.push(await allocatedBytes(`${d.dir}/state/snapshots/${name}/s`));
  }
  await remove(coldNames);

  // Warm: the plugin's ready snapshot (VMs of plugin defaults: 256 MiB), then N clones.
  const tw = performance.now();
  await d.json<Snap>("/api/v1/plugins/counter/warm", post({}));
  const warmMs = performance.now() - tw;
  const warm: number[] = [];
  const warmPids: number[] = [];
  const warmNames = Array.from({ length: N }, (_, i) => `w${i}`);
  for (const name of warmNames) {
    const t0 = performance.now();
    const vm = await d.json<Vm>("/api/v1/vms", post({ name, plugin: "counter" }));
    await answer(name);
    warm.push(performance.now() - t0);
    warmPids.push(vm.pid);
  }
  const warmPss = await pssMib(warmPids);
  await remove(warmNames);

  const r = {
    guest_mib: MEM,
    n: N,
    cold_create_to_http_ms: Math.round(median(cold)),
    busybox_floor_ms: Math.round(median(cold)),
    warm_create_to_http_ms: Math.round(median(warm)),
    warm_over_cold: Number((median(warm) / median(cold)).toFixed(2)),
    warm_min_ms: Math.round(Math.min(...warm)),
    warm_max_ms: Math.round(Math.max(...warm)),
    plugin_warm_ms: Math.round(warmMs),
    snapshot_ms: Math.round(median(snapMs)),
    snapshot_pause_ms: Math.round(median(pauseMs)),
    snapshot_mib: Number((median(sizes) / 1048576).toFixed(1)),
    snapshot_allocated_mib: Number((median(allocated) / 1048576).toFixed(1)),
    host_pss_mib_cold_total: Math.round(coldPss),
    host_pss_mib_warm_total: Math.round(warmPss),
    host_pss_mib_per_vm_cold: Math.round(coldPss / N),
    host_pss_mib_per_vm_warm: Math.round(warmPss / N),
    warm_pss_over_cold: Number((warmPss / coldPss).toFixed(2)),
    load_1m: Number((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]),
  };
  const verdict = (ok: boolean) => ok ? "met" : "MISSED";
  console.log(`guest ${MEM} MiB, N=${N}, medians (load ${r.load_1m}):`);
  console.log(`  cold create -> HTTP (busybox init = the floor): ${r.cold_create_to_http_ms} ms`);
  console.log(
    `  warm clone create -> HTTP: ${r.warm_create_to_http_ms} ms (${r.warm_min_ms}..${r.warm_max_ms})` +
      ` = ${r.warm_over_cold}x cold; target <= 0.2x: ${verdict(r.warm_over_cold <= 0.2)};` +
      ` below the floor: ${verdict(r.warm_create_to_http_ms < r.busybox_floor_ms)}`,
  );
  console.log(`  plugin ready snapshot (boot + healthy + save): ${r.plugin_warm_ms} ms`);
  console.log(
    `  snapshot (stop): ${r.snapshot_ms} ms wall, guest paused ${r.snapshot_pause_ms} ms,` +
      ` ${r.snapshot_mib} MiB (${r.snapshot_allocated_mib} MiB allocated)`,
  );
  console.log(
    `  host PSS: ${N} cold ${r.host_pss_mib_cold_total} MiB (${r.host_pss_mib_per_vm_cold}/VM),` +
      ` ${N} warm clones ${r.host_pss_mib_warm_total} MiB (${r.host_pss_mib_per_vm_warm}/VM),` +
      ` ratio ${r.warm_pss_over_cold}`,
  );
  console.log(`BENCH_JSON ${JSON.stringify({ bench: "snapshot", ...r })}`);
} finally {
  await d.close();
}
