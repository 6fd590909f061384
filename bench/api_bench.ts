/**
 * API benchmark: the real daemon (child process) over its unix socket.
 *
 * 1. daemon RSS when idle (after start, no VMs);
 * 2. 1,000 VMs created through the API (start=false: rows, leases, configs);
 * 3. GET /api/v1/vms (default page of 100, and limit=1000) with concurrent
 *    clients for a fixed time: req/s and p50/p99 latency;
 * 4. daemon RSS with 1,000 VMs (after the load), and per VM.
 *
 * Targets: >= 2,000 req/s and p99 <= 10 ms; <= 80 MiB idle, <= 100 KiB per VM.
 *
 * Run: deno run -A bench/api_bench.ts [--vms 1000] [--seconds 5] [--concurrency 8]
 */
import { parseArgs } from "node:util";
import { startDaemonProcess } from "../src/daemon/testing/harness.ts";
import { createApp } from "../src/api/mod.ts";
import type { ApiDeps } from "../src/api/mod.ts";
import { jsonBody, writePlugin } from "../src/api/testing/fixtures.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    vms: { type: "string", default: "1000" },
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "8" },
  },
});
const VMS = Number(values.vms);
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);

async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function load(
  fetchFn: (path: string) => Promise<Response>,
  path: string,
): Promise<{ rps: number; p50: number; p99: number; count: number; bytes: number }> {
  // Warm-up, so JIT and caches are settled before timing.
  for (let i = 0; i < 50; i++) await (await fetchFn(path)).arrayBuffer();
  const latencies: number[] = [];
  let bytes = 0;
  const end = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const res = await fetchFn(path);
      const body = await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
      latencies.push(performance.now() - t0);
      bytes += body.byteLength;
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    count: latencies.length,
    bytes: bytes / latencies.length,
  };
}

const d = await startDaemonProcess({
  // A /21 holds 2,045 guests: room for 1,000 leases.
  extraArgs: ["--subnet", "10.200.0.0/21", "--log-level", "warn"],
});
try {
  await new Promise((r) => setTimeout(r, 1000));
  const idleKiB = await rssKiB(d.pid);
  console.log(`daemon RSS idle: ${(idleKiB / 1024).toFixed(1)} MiB`);

  const path = await writePlugin(d.dir, "bench");
  const inst = await d.fetch("/api/v1/plugins", jsonBody("POST", { path }));
  if (inst.status !== 201) throw new Error(`install: ${inst.status} ${await inst.text()}`);
  await inst.body?.cancel();
  const t0 = performance.now();
  let lap = t0;
  for (let i = 0; i < VMS; i++) {
    if (i > 0 && i % 200 === 0) {
      const now = performance.now();
      console.log(`  ${i} VMs: last 200 creates ${((now - lap) / 200).toFixed(2)} ms each`);
      lap = now;
    }
    const res = await d.fetch(
      "/api/v1/vms",
      jsonBody("POST", { name: `vm-${i}`, plugin: "bench", start: false }),
    );
    // Read the body (cancelling it would make the client drop the connection).
    const text = await res.text();
    if (res.status !== 201) throw new Error(`create vm-${i}: ${res.status} ${text}`);
  }
  const createMs = performance.now() - t0;
  console.log(
    `created ${VMS} VMs through the API in ${(createMs / 1000).toFixed(2)} s ` +
      `(${(createMs / VMS).toFixed(2)} ms each)`,
  );
  await new Promise((r) => setTimeout(r, 1000));
  const createdKiB = await rssKiB(d.pid);
  const perVmCreatedKiB = (createdKiB - idleKiB) / VMS;
  console.log(
    `daemon RSS after the creates: ${(createdKiB / 1024).toFixed(1)} MiB ` +
      `(+${perVmCreatedKiB.toFixed(1)} KiB per VM)`,
  );
  const listed = await d.fetch("/api/v1/vms?limit=1");
  console.log(`X-Total-Count: ${listed.headers.get("x-total-count")}`);
  await listed.body?.cancel();

  const page = await load(d.fetch, "/api/v1/vms");
  console.log(
    `GET /api/v1/vms (page of 100 of ${VMS}), ${CONCURRENCY} clients, ${SECONDS} s: ` +
      `${page.rps.toFixed(0)} req/s, p50 ${page.p50.toFixed(2)} ms, p99 ${
        page.p99.toFixed(2)
      } ms, ` +
      `${(page.bytes / 1024).toFixed(1)} KiB/response`,
  );
  const full = await load(d.fetch, "/api/v1/vms?limit=1000");
  console.log(
    `GET /api/v1/vms?limit=1000 (all ${VMS} rows): ${full.rps.toFixed(0)} req/s, ` +
      `p50 ${full.p50.toFixed(2)} ms, p99 ${full.p99.toFixed(2)} ms, ` +
      `${(full.bytes / 1024).toFixed(1)} KiB/response`,
  );
  // Attribution: the same page from an API whose VM service returns it from memory (no
  // SQLite), served in this process on its own unix socket. Separates the HTTP/Hono layer's
  // cost from the store's.
  const fixedPage = await (await d.fetch("/api/v1/vms")).json();
  const services = { vms: { list: () => fixedPage } } as unknown as ApiDeps["services"];
  const stubApp = createApp({ services, auth: {} });
  const stubSocket = `${d.dir}/api-only.sock`;
  const stubServer = Deno.serve(
    { path: stubSocket, onListen() {} },
    (req) => stubApp.fetch(req, { transport: "unix" }),
  );
  const stubClient = Deno.createHttpClient({ proxy: { transport: "unix", path: stubSocket } });
  const apiOnly = await load(
    (p) => fetch(`http://volantd${p}`, { client: stubClient }),
    "/api/v1/vms",
  );
  stubClient.close();
  await stubServer.shutdown();
  console.log(
    `  same page, API layer only (service answers from memory, in the bench process): ` +
      `${apiOnly.rps.toFixed(0)} req/s, p50 ${apiOnly.p50.toFixed(2)} ms, p99 ${
        apiOnly.p99.toFixed(2)
      } ms`,
  );
  await new Promise((r) => setTimeout(r, 1000));
  const loadedKiB = await rssKiB(d.pid);
  const perVmKiB = (loadedKiB - idleKiB) / VMS;
  console.log(
    `daemon RSS with ${VMS} VMs: ${(loadedKiB / 1024).toFixed(1)} MiB ` +
      `(+${perVmKiB.toFixed(1)} KiB per VM over idle, including heap grown by the load runs)`,
  );
  const ok = {
    rps: page.rps >= 2000,
    p99: page.p99 <= 10,
    idle: idleKiB / 1024 <= 80,
    per_vm: perVmCreatedKiB <= 100,
  };
  console.log(
    `targets: >=2000 req/s ${ok.rps ? "met" : "MISSED"}, p99<=10ms ${ok.p99 ? "met" : "MISSED"}, ` +
      `idle<=80MiB ${ok.idle ? "met" : "MISSED"}, <=100KiB/VM ${ok.per_vm ? "met" : "MISSED"}`,
  );
  console.log(
    "BENCH_JSON " + JSON.stringify({
      bench: "api",
      vms: VMS,
      concurrency: CONCURRENCY,
      seconds: SECONDS,
      list_page_rps: Math.round(page.rps),
      list_page_p50_ms: Number(page.p50.toFixed(3)),
      list_page_p99_ms: Number(page.p99.toFixed(3)),
      api_only_page_rps: Math.round(apiOnly.rps),
      api_only_page_p99_ms: Number(apiOnly.p99.toFixed(3)),
      list_all_rps: Math.round(full.rps),
      list_all_p50_ms: Number(full.p50.toFixed(3)),
      list_all_p99_ms: Number(full.p99.toFixed(3)),
      create_ms_per_vm: Number((createMs / VMS).toFixed(3)),
      rss_idle_mib: Number((idleKiB / 1024).toFixed(1)),
      rss_loaded_mib: Number((loadedKiB / 1024).toFixed(1)),
      rss_created_mib: Number((createdKiB / 1024).toFixed(1)),
      rss_per_vm_kib: Number(perVmCreatedKiB.toFixed(1)),
      rss_per_vm_after_load_kib: Number(perVmKiB.toFixed(1)),
      targets_met: ok,
    }),
  );
} finally {
  await d.stop();
  await d.cleanup();
}
