/**
 * Benchmark helper: fills a state database with N VM rows (plugin, leases,
 * configs), as the API benchmark needs. Importable (`insertVmRows`) or run
 * alone: `deno run -A bench/store_rows.ts <state-dir> [count=1000]`.
 *
 * @module
 */
import type { PluginRecord, VmConfig } from "../src/manifest/api.ts";
import { parseManifest } from "../src/manifest/mod.ts";
import { formatIpv4, macFor, planPool } from "../src/service/ipam.ts";
import type { StateStore } from "../src/service/store_port.ts";
import { openStore } from "../src/store/mod.ts";

const STATES = ["running", "stopped", "created", "crashed"] as const;

/** The plugin every generated VM uses (no artifacts: rows only, nothing to boot). */
export function benchPlugin(name = "bench"): PluginRecord {
  const manifest = parseManifest({
    name,
    version: "1.0",
    initramfs: { url: "https://example.test/initramfs.cpio.gz", checksum: "d".repeat(64) },
    resources: { cpu_cores: 1, memory_mb: 128 },
    workload: { type: "http", base_url: "http://127.0.0.1:8080", entrypoint: ["/bin/app"] },
  });
  const now = new Date().toISOString();
  return {
    name,
    version: "1.0",
    runtime: name,
    enabled: true,
    allow_unverified: false,
    source: "bench",
    manifest,
    artifacts: [],
    installed_at: now,
    updated_at: now,
  };
}

/**
 * Inserts `count` VMs named `<prefix>-<i>` in one transaction, with leases
 * from `subnet` (default 10.64.0.0/16, room for 65k) and config rows.
 */
export function insertVmRows(
  store: StateStore,
  count: number,
  opts: { prefix?: string; subnet?: string; plugin?: string } = {},
): void {
  const prefix = opts.prefix ?? "vm";
  const pool = planPool(opts.subnet ?? "10.64.0.0/16");
  if (count > pool.capacity) throw new Error(`${count} VMs do not fit ${pool.subnet}`);
  const plugin = benchPlugin(opts.plugin ?? "bench");
  store.tx(() => {
    if (!store.plugins.get(plugin.name)) store.plugins.put(plugin);
    const used = new Set(store.leases.leased());
    let next = pool.startNum;
    for (let i = 0; i < count; i++) {
      while (used.has(next)) next++;
      const ipNum = next++;
      const ip = formatIpv4(ipNum);
      const name = `${prefix}-${i}`;
      const now = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString();
      const state = STATES[i % STATES.length];
      const row = store.vms.insert({
        name,
        state,
        desired: state === "running" ? "running" : "stopped",
        plugin: plugin.name,
        runtime: plugin.runtime,
        ip,
        mac: macFor(name, ip),
        cpu_cores: 1,
        memory_mb: 128,
        pid: state === "running" ? 100_000 + i : undefined,
        machine: "microvm",
        restart_policy: "never",
        health: "unknown",
        kernel_cmdline: "",
        restarts: 0,
        artifacts: [],
      }, now);
      store.leases.insert(ipNum, row.id, now);
      const config: VmConfig = {
        plugin: plugin.name,
        runtime: plugin.runtime,
        kernel_cmdline: "",
        resources: { cpu_cores: 1, memory_mb: 128 },
        machine: "microvm",
        restart_policy: "never",
        manifest: plugin.manifest,
      };
      store.configs.put(row.id, config, now);
    }
  });
}

if (import.meta.main) {
  const [stateDir, countArg] = Deno.args;
  if (!stateDir) {
    console.error("usage: deno run -A bench/store_rows.ts <state-dir> [count=1000]");
    Deno.exit(2);
  }
  const count = Number(countArg ?? 1000);
  const store = openStore({ stateDir });
  const t0 = performance.now();
  insertVmRows(store, count);
  const ms = performance.now() - t0;
  store.close();
  console.log(`inserted ${count} VM rows into ${stateDir}/volant.db in ${ms.toFixed(1)} ms`);
}
