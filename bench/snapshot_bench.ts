/**
 * Snapshots, measured through a real volantd (QEMU, jail on) in a network
 * namespace, with the counter guest of tests/e2e/_snapshot_fixture.ts (our
 * kernel + busybox as init answering HTTP on :8080, 256 MiB):
 *
 * - cold: `POST /vms` -> first HTTP answer through the agent proxy. With
 *   busybox as init this *is* the busybox floor through the API.
 * - snapshot: `POST /vms/{vm}/snapshots {stop:true}` wall time, the guest's
 *   pause and the snapshot's size on disk.
 * - warm: `POST /vms/{vm}/restore` -> first HTTP answer (same VM, from its
 *   own snapshot: warm clones of one snapshot are not built yet).
 * - memory: host PSS of N QEMUs booted cold vs the same N restored
 *   (`SNAP_BENCH_N`, default 10).
 *
 * Run alone: `deno run -A bench/snapshot_bench.ts` (root; needs the kernel
 * from `deno task kernel`, qemu-system-x86, busybox-static).
 *
 * @module
 */
import { post, startSnapDaemon, until } from "../tests/e2e/_snapshot_fixture.ts";

type Vm = { name: string; state: string; pid: number };
type Snap = { size_bytes: number; pause_ms: number };

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

const d = await startSnapDaemon();
try {
  const answer = (vm: string) =>
    until(`${vm} answers`, async () => {
      const res = await d.fetch(`/api/v1/vms/${vm}/agent/healthz`);
      await res.body?.cancel();
      return res.ok ? true : undefined;
    }, 180_000);
  const cold: number[] = [];
  const warm: number[] = [];
  const snapMs: number[] = [];
  const pauseMs: number[] = [];
  const sizes: number[] = [];
  const names = Array.from({ length: N }, (_, i) => `b${i}`);

  // Cold: N VMs, one after another (they would compete for the 2 cores otherwise).
  const coldPids: number[] = [];
  for (const name of names) {
    const t0 = performance.now();
    const vm = await d.json<Vm>("/api/v1/vms", post({ name, plugin: "counter", memory_mb: MEM }));
    await answer(name);
    cold.push(performance.now() - t0);
    coldPids.push(vm.pid);
  }
  // Settled: let the guests go idle before reading memory.
  await new Promise((r) => setTimeout(r, 3000));
  let coldPss = 0;
  for (const pid of coldPids) coldPss += await pssKib(pid);

  for (const name of names) {
    const t0 = performance.now();
    const s = await d.json<Snap>(`/api/v1/vms/${name}/snapshots`, post({ name: "s", stop: true }));
    snapMs.push(performance.now() - t0);
    pauseMs.push(s.pause_ms);
    sizes.push(s.size_bytes);
  }
  const warmPids: number[] = [];
  for (const name of names) {
    const t0 = performance.now();
    const vm = await d.json<Vm>(`/api/v1/vms/${name}/restore`, post({ from: "s" }));
    await answer(name);
    warm.push(performance.now() - t0);
    warmPids.push(vm.pid);
  }
  await new Promise((r) => setTimeout(r, 3000));
  let warmPss = 0;
  for (const pid of warmPids) warmPss += await pssKib(pid);

  const result = {
    guest_mib: MEM,
    n: N,
    cold_busybox_create_to_http_ms: Math.round(median(cold)),
    warm_restore_to_http_ms: Math.round(median(warm)),
    warm_over_cold: Number((median(warm) / median(cold)).toFixed(2)),
    snapshot_ms: Math.round(median(snapMs)),
    snapshot_pause_ms: Math.round(median(pauseMs)),
    snapshot_mib: Number((median(sizes) / 1048576).toFixed(1)),
    host_pss_mib_cold_total: Math.round(coldPss / 1024),
    host_pss_mib_warm_total: Math.round(warmPss / 1024),
    host_pss_mib_per_vm_cold: Math.round(coldPss / 1024 / N),
    host_pss_mib_per_vm_warm: Math.round(warmPss / 1024 / N),
  };
  console.log(`guest ${MEM} MiB, N=${N}, medians:`);
  console.log(
    `  cold create -> HTTP (busybox init, the floor): ${result.cold_busybox_create_to_http_ms} ms`,
  );
  console.log(
    `  restore -> HTTP:                               ${result.warm_restore_to_http_ms} ms (${result.warm_over_cold}x)`,
  );
  console.log(
    `  snapshot (stop): ${result.snapshot_ms} ms wall, guest paused ${result.snapshot_pause_ms} ms, ${result.snapshot_mib} MiB on disk`,
  );
  console.log(
    `  host PSS: ${N} cold ${result.host_pss_mib_cold_total} MiB, ${N} restored ${result.host_pss_mib_warm_total} MiB`,
  );
  for (const name of names) {
    const res = await d.fetch(`/api/v1/vms/${name}`, { method: "DELETE" });
    await res.body?.cancel();
  }
  console.log(`BENCH_JSON ${JSON.stringify({ bench: "snapshot", ...result })}`);
} finally {
  await d.close();
}
