/**
 * IPAM: allocate + release of 250 leases against a real SQLite file, (1) the
 * lease step alone, each in its own transaction as a VM create does, and
 * (2) through VmService (create with start=false, then delete), which adds
 * the VM row, config row and events.
 *
 * Run: deno run -A bench/ipam_bench.ts
 *
 * @module
 */
import { Ipam, planPool } from "../src/service/ipam.ts";
import { createServices } from "../src/service/mod.ts";
import { openStore } from "../src/store/mod.ts";
import { benchPlugin, insertVmRows } from "./store_rows.ts";

const N = 250;
const dir = await Deno.makeTempDir({ prefix: "volant-ipam-bench-" });
try {
  // (1) leases only: 250 VM rows exist (leases reference them), none leased.
  const store = openStore({ stateDir: `${dir}/a` });
  insertVmRows(store, N, { subnet: "10.1.0.0/16" });
  const ids = store.vms.list({ limit: N, offset: 0, sort: "id", order: "asc" }).items.map((v) =>
    v.id
  );
  store.tx(() => ids.forEach((id) => store.leases.releaseVm(id)));
  const ipam = new Ipam(store.leases, planPool("192.168.0.0/23")); // 509 addresses
  const t0 = performance.now();
  const got: string[] = [];
  for (const id of ids) got.push(store.tx(() => ipam.allocate(id, new Date().toISOString())));
  const t1 = performance.now();
  for (const id of ids) store.tx(() => ipam.release(id));
  const t2 = performance.now();
  if (new Set(got).size !== N) throw new Error("duplicate lease");
  if (store.leases.count() !== 0) throw new Error("leases left behind");
  store.close();
  const allocMs = t1 - t0;
  const releaseMs = t2 - t1;
  console.log(
    `IPAM leases only: allocate ${N} in ${allocMs.toFixed(1)} ms (${
      (allocMs / N).toFixed(3)
    } ms each), release ${N} in ${releaseMs.toFixed(1)} ms`,
  );
  console.log(`  first ${got[0]}, last ${got.at(-1)} (numeric order)`);

  // (2) through the service: create(start=false) + delete.
  const store2 = openStore({ stateDir: `${dir}/b` });
  store2.plugins.put(benchPlugin("web"));
  const services = createServices({
    store: store2,
    options: { stateDir: `${dir}/b`, subnet: "10.2.0.0/23" },
  });
  const t3 = performance.now();
  await Promise.all(
    Array.from(
      { length: N },
      (_, i) => services.vms.create({ name: `b${i}`, plugin: "web", start: false }),
    ),
  );
  const t4 = performance.now();
  for (let i = 0; i < N; i++) await services.vms.delete(`b${i}`);
  const t5 = performance.now();
  if (store2.leases.count() !== 0) throw new Error("service leases left behind");
  await services.close();
  store2.close();
  const createMs = t4 - t3;
  const deleteMs = t5 - t4;
  console.log(
    `VmService: create ${N} (concurrent, no boot) in ${createMs.toFixed(1)} ms, delete ${N} in ${
      deleteMs.toFixed(1)
    } ms`,
  );
  console.log(
    "BENCH_JSON " + JSON.stringify({
      area: "ipam",
      leases: N,
      allocate_ms: +allocMs.toFixed(2),
      release_ms: +releaseMs.toFixed(2),
      allocate_release_ms: +(allocMs + releaseMs).toFixed(2),
      service_create_ms: +createMs.toFixed(2),
      service_delete_ms: +deleteMs.toFixed(2),
    }),
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
