/**
 * Snapshots and warm starts (issue #22), in one run, through a real volantd
 * (QEMU, jail on) in a network namespace this bench creates
 * (tests/e2e/_snapshot_fixture.ts), 256 MiB guests:
 *
 * - cold: a real plugin, `kw` (our kernel, the shim, kestrel from
 *   agent/main.ts, busybox httpd as the workload): `POST /vms` -> the
 *   daemon's `vm.healthy` event (kestrel answers /healthz, i.e. the workload
 *   is up; the workload's own first answer is recorded too), each VM booted
 *   alone, then deleted.
 * - warm: `POST /plugins/kw/warm` (= `volar plugins warm kw`, timed), then
 *   `POST /vms` -> `vm.healthy` for clones of that ready snapshot (restore,
 *   copy-on-write RAM, identity hand-off), each alone.
 * - busybox floor, twice: (a) through the same API path, the `counter` plugin
 *   (the same kernel, busybox as init, httpd): `POST /vms` -> its httpd
 *   answers at the VM's address (it has no kestrel, so no daemon health);
 *   (b) bare QEMU as bench/boot_bench.ts measures it: QEMU start -> busybox
 *   httpd answering inside the guest (no daemon, no NIC, no jail).
 * - snapshot of a healthy kestrel VM with `stop`: wall time, the guest's
 *   pause, size (apparent, and allocated: the RAM image is sparse).
 * - memory: host PSS (/proc/<pid>/smaps_rollup: shared pages split between
 *   sharers) of COUNT cold kestrel VMs, then of COUNT warm clones, each set
 *   alone and healthy.
 *
 * Targets: warm <= 0.2x cold; warm below the busybox floor.
 *
 * Run alone: `deno run -A bench/snapshot_bench.ts` (root; the kernel from
 * `deno task kernel`, qemu-system-x86, busybox-static, musl-tools), or with
 * every bench: `deno task bench` (`deno task bench snapshot` for this one).
 * `N` (default 5) timed creates per kind, `COUNT` (default 10) VMs per memory
 * set.
 *
 * @module
 */
import { join } from "node:path";
import { buildAgentArtifacts } from "../scripts/agent_image.ts";
import {
  installKestrelPlugin,
  post,
  type SnapDaemon,
  startSnapDaemon,
} from "../tests/e2e/_snapshot_fixture.ts";
import { guestKernel, GuestVm, hostQemuAccel } from "../tests/e2e/_guest_vm.ts";
import { FLOOR_INIT, initrd, READY } from "./boot_bench.ts";

type Vm = { name: string; pid: number };
type Snap = { size_bytes: number; pause_ms: number; name: string; vm: string };

const REPO = new URL("../", import.meta.url).pathname;
const CACHE = Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant";
const N = Number(Deno.env.get("N") ?? 5);
const COUNT = Number(Deno.env.get("COUNT") ?? 10);
const MEM = 256;
const TIMEOUT_MS = 240_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const round = (x: number, digits = 0) => Number(x.toFixed(digits));
const verdict = (ok: boolean) => ok ? "PASS" : "MISS";

/** Proportional set size of a process, KiB. */
async function pssKib(pid: number): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
  return Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? 0);
}

/** Bytes a snapshot dir really takes on disk (`du`: holes of the RAM image are free). */
async function allocatedBytes(dir: string): Promise<number> {
  const out = await new Deno.Command("du", { args: ["-s", "-B1", dir], stdout: "piped" }).output();
  return Number(new TextDecoder().decode(out.stdout).split(/\s/)[0]);
}

/**
 * The daemon's health verdicts as they arrive, from its event stream (read
 * from event 0, so none is missed between a create and the wait for it).
 */
class HealthEvents {
  #seen = new Map<string, { type: string; at: number }>();
  /** `vm.restored`'s phases per VM (warm clones): where the restore's time went. */
  readonly restored = new Map<string, Record<string, number>>();
  #waiters = new Map<string, () => void>();
  #abort = new AbortController();
  #done: Promise<void>;

  constructor(d: SnapDaemon) {
    this.#done = this.#read(d).catch((e) => {
      if (!this.#abort.signal.aborted) console.error(`event stream: ${e}`);
    });
  }

  async #read(d: SnapDaemon): Promise<void> {
    const res = await d.fetch(
      "/api/v1/events?after=0&type=vm.healthy,vm.unhealthy,vm.failed,vm.restored",
      {
        signal: this.#abort.signal,
      },
    );
    if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
    let buf = "";
    for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = frame.split("\n").find((l) => l.startsWith("data: "));
        if (!data) continue;
        const e = JSON.parse(data.slice(6)) as {
          type: string;
          resource: string;
          data?: { phases_ms?: Record<string, number> };
        };
        if (e.type === "vm.restored") {
          if (e.data?.phases_ms) this.restored.set(e.resource, e.data.phases_ms);
          continue;
        }
        if (this.#seen.has(e.resource)) continue;
        this.#seen.set(e.resource, { type: e.type, at: performance.now() });
        this.#waiters.get(e.resource)?.();
      }
    }
  }

  /** performance.now() when `vm`'s first health verdict arrived; throws unless healthy. */
  async healthy(vm: string, ms = TIMEOUT_MS): Promise<number> {
    if (!this.#seen.has(vm)) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#waiters.set(vm, r)),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${vm}: no health verdict in ${ms} ms`)), ms);
        }),
      ]).finally(() => clearTimeout(timer));
      this.#waiters.delete(vm);
    }
    const e = this.#seen.get(vm)!;
    if (e.type !== "vm.healthy") throw new Error(`${vm}: ${e.type}`);
    return e.at;
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }
}

/**
 * performance.now() when the workload first answers `GET http://<ip>:<port>/healthz`, asked
 * from inside the daemon's namespace (curl: the host's busybox wget crashes), every 50 ms.
 */
async function answers(d: SnapDaemon, ip: string, port: number): Promise<number> {
  const url = `http://${ip}:${port}/healthz`;
  const end = performance.now() + TIMEOUT_MS;
  while (performance.now() < end) {
    const out = await new Deno.Command("ip", {
      args: ["netns", "exec", d.ns, "curl", "-fs", "-o", "/dev/null", "-m", "2", url],
      stdout: "null",
      stderr: "null",
    }).output();
    if (out.success) return performance.now();
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url}: no answer in ${TIMEOUT_MS} ms`);
}

/** Where each plugin's workload listens in the guest. */
const PORT: Record<string, number> = { counter: 8080, kw: 80 };

/**
 * `POST /vms` -> the workload answers at the VM's address (`http_ms`), and ->
 * the daemon's `vm.healthy` (`ms`; only with `ev`); the VM's pid.
 */
async function createHealthy(
  d: SnapDaemon,
  ev: HealthEvents | null,
  name: string,
  plugin: string,
): Promise<{ ms: number; httpMs: number; pid: number }> {
  const t0 = performance.now();
  const vm = await d.json<Vm & { ip: string }>("/api/v1/vms", post({ name, plugin }));
  const [http, healthy] = await Promise.all([
    answers(d, vm.ip, PORT[plugin]),
    ev ? ev.healthy(name) : Promise.resolve(NaN),
  ]);
  return { ms: ev ? healthy - t0 : http - t0, httpMs: http - t0, pid: vm.pid };
}

async function remove(d: SnapDaemon, names: string[]): Promise<void> {
  for (const name of names) {
    const res = await d.fetch(`/api/v1/vms/${name}`, { method: "DELETE" });
    await res.body?.cancel();
    if (!res.ok && res.status !== 404) throw new Error(`DELETE ${name}: ${res.status}`);
  }
}

/** N creates, each VM alone (deleted before the next one): ms to healthy, ms to HTTP. */
async function timedAlone(
  d: SnapDaemon,
  ev: HealthEvents | null,
  prefix: string,
  plugin: string,
) {
  const ms: number[] = [];
  const httpMs: number[] = [];
  for (let i = 0; i < N; i++) {
    const name = `${prefix}${i}`;
    const r = await createHealthy(d, ev, name, plugin);
    ms.push(r.ms);
    httpMs.push(r.httpMs);
    const phases = ev?.restored.get(name);
    console.log(
      `  ${plugin} ${name}: create -> workload answers ${Math.round(r.httpMs)} ms` +
        (ev ? `, -> vm.healthy ${Math.round(r.ms)} ms` : "") +
        (phases ? ` (restore: ${JSON.stringify(phases)})` : ""),
    );
    await remove(d, [name]);
  }
  return { ms, httpMs };
}

/** COUNT VMs up at once, all healthy: host PSS (MiB) summed over their QEMUs. */
async function memorySet(d: SnapDaemon, ev: HealthEvents, prefix: string, plugin: string) {
  const names: string[] = [];
  const pids: number[] = [];
  const ms: number[] = [];
  for (let i = 0; i < COUNT; i++) {
    const name = `${prefix}${i}`;
    const r = await createHealthy(d, ev, name, plugin);
    names.push(name);
    pids.push(r.pid);
    ms.push(r.ms);
  }
  // A fixed settle: memory keeps moving for a moment after the health check (page faults of
  // the workload's first answers, kestrel's own start-up tail).
  await new Promise((r) => setTimeout(r, 3000));
  let kib = 0;
  for (const pid of pids) kib += await pssKib(pid);
  return { names, pssMib: kib / 1024, ms };
}

/** Bare QEMU, busybox as init (bench/boot_bench.ts's floor): QEMU start -> httpd answers. */
async function bareFloor(kernel: string, shim: Uint8Array, work: string): Promise<number[]> {
  const rd = await initrd(join(work, "floor.cpio.gz"), shim, FLOOR_INIT);
  const accel = await hostQemuAccel();
  const ms: number[] = [];
  for (let i = 0; i < N; i++) {
    const dir = await Deno.makeTempDir({ dir: work, prefix: "floor-" });
    const vm = new GuestVm({ kernel, dir, accel, initrd: rd, memMiB: MEM });
    try {
      ms.push((await vm.waitFor(READY, TIMEOUT_MS)).ms);
    } finally {
      await vm.kill();
    }
    console.log(`  bare busybox floor ${i}: QEMU start -> httpd answers ${Math.round(ms[i])} ms`);
  }
  return ms;
}

const load = async () =>
  (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");

if (import.meta.main) {
  const loadStart = await load();
  const artifacts = await buildAgentArtifacts({
    kestrel: { kind: "entry", path: join(REPO, "agent/main.ts") },
    cacheDir: CACHE,
    setCurrent: false,
    log: () => {},
  });
  const shim = await Deno.readFile(artifacts.shim);
  const kernel = await guestKernel();
  const work = await Deno.makeTempDir({ prefix: "volant-snap-bench-" });
  let d: SnapDaemon | undefined;
  let ev: HealthEvents | undefined;
  try {
    console.log(`load at start: ${loadStart}; N=${N}, COUNT=${COUNT}, ${MEM} MiB guests`);
    console.log("busybox floor, bare QEMU:");
    const bare = await bareFloor(kernel, shim, work);

    // The counter guest has no kestrel: under a daemon with a real agent image its agent calls
    // wait on an agent channel nobody opens, so it gets a daemon of its own, with the blank
    // agent image of the e2e tests (health then probes its httpd at <ip>:8080/healthz).
    console.log("busybox floor through the API (counter plugin):");
    d = await startSnapDaemon([], { memoryMb: MEM });
    const floor = (await timedAlone(d, null, "f", "counter")).ms;
    await d.close();
    d = undefined;

    d = await startSnapDaemon([], { agentImage: artifacts.agentImage, memoryMb: MEM });
    ev = new HealthEvents(d);
    await installKestrelPlugin(d, artifacts.shim);
    console.log("cold kestrel plugin:");
    const coldT = await timedAlone(d, ev, "c", "kw");
    const cold = coldT.ms;

    console.log(`${COUNT} cold kestrel VMs at once (memory):`);
    const coldSet = await memorySet(d, ev, "cm", "kw");
    // Snapshot time and size: three of them, stopped after the save.
    const snapMs: number[] = [];
    const pauseMs: number[] = [];
    const sizes: number[] = [];
    const allocated: number[] = [];
    for (const name of coldSet.names.slice(0, Math.min(3, COUNT))) {
      const t0 = performance.now();
      const s = await d.json<Snap>(
        `/api/v1/vms/${name}/snapshots`,
        post({ name: "s", stop: true }),
      );
      snapMs.push(performance.now() - t0);
      pauseMs.push(s.pause_ms);
      sizes.push(s.size_bytes);
      allocated.push(await allocatedBytes(`${d.dir}/state/snapshots/${name}/s`));
      console.log(
        `  snapshot ${name}: ${Math.round(snapMs.at(-1)!)} ms wall, paused ${s.pause_ms} ms`,
      );
    }
    await remove(d, coldSet.names);

    const tw = performance.now();
    const ready = await d.json<Snap>("/api/v1/plugins/kw/warm", post({}));
    const warmUpMs = performance.now() - tw;
    console.log(
      `plugin kw warmed (boot + healthy + hand-off check + save): ${Math.round(warmUpMs)} ms`,
    );
    console.log("warm clones of kw:");
    const warmT = await timedAlone(d, ev, "w", "kw");
    const warm = warmT.ms;
    console.log(`${COUNT} warm clones at once (memory):`);
    const warmSet = await memorySet(d, ev, "wm", "kw");
    await remove(d, warmSet.names);

    const m = {
      floor: median(floor),
      bare: median(bare),
      cold: median(cold),
      warm: median(warm),
    };
    const r = {
      guest_mib: MEM,
      n: N,
      count: COUNT,
      cold_create_to_healthy_ms: Math.round(m.cold),
      warm_create_to_healthy_ms: Math.round(m.warm),
      cold_create_to_http_ms: Math.round(median(coldT.httpMs)),
      warm_create_to_http_ms: Math.round(median(warmT.httpMs)),
      warm_over_cold_http: round(median(warmT.httpMs) / median(coldT.httpMs), 2),
      busybox_floor_api_ms: Math.round(m.floor),
      busybox_floor_bare_qemu_ms: Math.round(m.bare),
      warm_over_cold: round(m.warm / m.cold, 2),
      warm_over_floor_api: round(m.warm / m.floor, 2),
      warm_over_floor_bare: round(m.warm / m.bare, 2),
      target_warm_over_cold: 0.2,
      pass_warm_over_cold: m.warm / m.cold <= 0.2,
      pass_below_floor_api: m.warm < m.floor,
      pass_below_floor_bare: m.warm < m.bare,
      runs_ms: {
        cold: cold.map(Math.round),
        warm: warm.map(Math.round),
        cold_http: coldT.httpMs.map(Math.round),
        warm_http: warmT.httpMs.map(Math.round),
        floor_api: floor.map(Math.round),
        floor_bare: bare.map(Math.round),
        cold_in_set: coldSet.ms.map(Math.round),
        warm_in_set: warmSet.ms.map(Math.round),
      },
      plugin_warm_ms: Math.round(warmUpMs),
      ready_snapshot_mib: round(ready.size_bytes / 1048576, 1),
      snapshot_ms: Math.round(median(snapMs)),
      snapshot_pause_ms: Math.round(median(pauseMs)),
      snapshot_mib: round(median(sizes) / 1048576, 1),
      snapshot_allocated_mib: round(median(allocated) / 1048576, 1),
      host_pss_mib_cold_total: Math.round(coldSet.pssMib),
      host_pss_mib_warm_total: Math.round(warmSet.pssMib),
      host_pss_mib_per_vm_cold: Math.round(coldSet.pssMib / COUNT),
      host_pss_mib_per_vm_warm: Math.round(warmSet.pssMib / COUNT),
      warm_pss_over_cold: round(warmSet.pssMib / coldSet.pssMib, 2),
      load_start: loadStart,
      load_end: await load(),
    };
    const range = (xs: number[]) =>
      `${Math.round(Math.min(...xs))}..${Math.round(Math.max(...xs))}`;
    console.log(`\n${MEM} MiB guests, medians of ${N} (load ${r.load_start} -> ${r.load_end}):`);
    console.log(
      `  cold kestrel plugin, create -> healthy:  ${r.cold_create_to_healthy_ms} ms (${
        range(cold)
      })`,
    );
    console.log(
      `  warm clone, create -> healthy:           ${r.warm_create_to_healthy_ms} ms (${
        range(warm)
      })`,
    );
    console.log(
      `  busybox floor, API create -> HTTP answer: ${r.busybox_floor_api_ms} ms (${range(floor)})`,
    );
    console.log(
      `  busybox floor, bare QEMU -> httpd:       ${r.busybox_floor_bare_qemu_ms} ms (${
        range(bare)
      })`,
    );
    console.log(
      `  kw create -> workload HTTP answer: cold ${r.cold_create_to_http_ms} ms, warm ` +
        `${r.warm_create_to_http_ms} ms (${r.warm_over_cold_http}x)`,
    );
    console.log(
      `  warm/cold ${r.warm_over_cold}x, target <= 0.2x: ${verdict(r.pass_warm_over_cold)}`,
    );
    console.log(
      `  warm/floor (API) ${r.warm_over_floor_api}x, below it: ${verdict(r.pass_below_floor_api)}`,
    );
    console.log(
      `  warm/floor (bare QEMU) ${r.warm_over_floor_bare}x, below it: ${
        verdict(r.pass_below_floor_bare)
      }`,
    );
    console.log(
      `  plugin warm-up: ${r.plugin_warm_ms} ms; ready snapshot ${r.ready_snapshot_mib} MiB`,
    );
    console.log(
      `  snapshot of a healthy kestrel VM (stop): ${r.snapshot_ms} ms wall, guest paused ` +
        `${r.snapshot_pause_ms} ms, ${r.snapshot_mib} MiB apparent, ` +
        `${r.snapshot_allocated_mib} MiB allocated`,
    );
    console.log(
      `  host PSS: ${COUNT} cold ${r.host_pss_mib_cold_total} MiB (${r.host_pss_mib_per_vm_cold}/VM), ` +
        `${COUNT} warm clones ${r.host_pss_mib_warm_total} MiB (${r.host_pss_mib_per_vm_warm}/VM), ` +
        `ratio ${r.warm_pss_over_cold}`,
    );
    console.log(`BENCH_JSON ${JSON.stringify({ bench: "snapshot", ...r })}`);
  } catch (e) {
    if (d) console.error(d.stderr().slice(-4000));
    throw e;
  } finally {
    await ev?.close();
    await d?.close();
    await Deno.remove(work, { recursive: true });
  }
}
