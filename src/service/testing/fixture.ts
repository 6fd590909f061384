/**
 * A service fixture for tests: real SQLite in a temp dir, real files for the
 * kernel / agent image / boot initramfs / rootfs blob, and the in-memory
 * port doubles from fake_ports.ts.
 *
 * @module
 */
import { openStore, type SqliteStore } from "../../store/mod.ts";
import type { PluginRecord } from "../../manifest/api.ts";
import { parseManifest } from "../../manifest/mod.ts";
import { createServices } from "../mod.ts";
import type { EventBusApi, Services } from "../contracts.ts";
import type { ServiceDeps, ServiceOptions } from "../options.ts";
import { FakeHypervisor, FakeNetwork } from "./fake_ports.ts";

export interface ServiceFixture {
  dir: string;
  store: SqliteStore;
  hv: FakeHypervisor;
  net: FakeNetwork;
  services: Services;
  options: ServiceOptions;
  /** A second service instance over the same state (a daemon restart). */
  reopen(deps?: Partial<ServiceDeps>): Promise<Services>;
  close(): Promise<void>;
}

export async function serviceFixture(
  opts: { options?: Partial<ServiceOptions>; deps?: Partial<ServiceDeps>; plugin?: boolean } = {},
): Promise<ServiceFixture> {
  const dir = await Deno.makeTempDir({ prefix: "volant-svc-" });
  for (const f of ["vmlinux", "agent.img", "boot.cpio.gz", "rootfs.img"]) {
    await Deno.writeTextFile(`${dir}/${f}`, f);
  }
  const options: ServiceOptions = {
    stateDir: `${dir}/state`,
    runtimeDir: `${dir}/run`,
    kernel: `${dir}/vmlinux`,
    agentImage: `${dir}/agent.img`,
    bootInitramfs: `${dir}/boot.cpio.gz`,
    restart: { baseDelayMs: 5, maxDelayMs: 20 },
    health: { timeoutMs: 2000, intervalMs: 50 },
    ...opts.options,
  };
  const store = openStore({ stateDir: options.stateDir });
  if (opts.plugin !== false) store.plugins.put(pluginRecord(`${dir}/rootfs.img`));
  const hv = new FakeHypervisor();
  const net = new FakeNetwork();
  const opened: Services[] = [];
  const make = (deps: Partial<ServiceDeps> = {}) => {
    const s = createServices({
      store,
      hypervisor: hv,
      network: net,
      options,
      ...opts.deps,
      ...deps,
    });
    opened.push(s);
    return s;
  };
  const services = make();
  await services.start();
  return {
    dir,
    store,
    hv,
    net,
    services,
    options,
    async reopen(deps) {
      const s = make(deps);
      await s.start();
      return s;
    },
    async close() {
      for (const s of opened) await s.close();
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

export function pluginRecord(rootfsPath: string, name = "web"): PluginRecord {
  const manifest = parseManifest({
    name,
    version: "1.0",
    rootfs: { url: "https://example.test/rootfs.img", checksum: "c".repeat(64) },
    resources: { cpu_cores: 2, memory_mb: 256 },
    workload: { type: "http", base_url: "http://127.0.0.1:80", entrypoint: ["/bin/httpd"] },
  });
  return {
    name,
    version: "1.0",
    runtime: name,
    enabled: true,
    allow_unverified: false,
    source: "body",
    manifest,
    artifacts: [{
      kind: "rootfs",
      name: "rootfs",
      url: "https://example.test/rootfs.img",
      sha256: "c".repeat(64),
      verified: true,
      size: 10,
      path: rootfsPath,
    }],
    installed_at: "2026-01-01T00:00:00.000Z",
    updated_at: "2026-01-01T00:00:00.000Z",
  };
}

/** Polls `pred` until true (or fails after `ms`). */
export async function waitFor(pred: () => boolean, ms = 3000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Resolves once `pred` holds, re-checking it on every event published (every
 * state change publishes one): the test waits on the event itself, not on a
 * poll interval. `ms` only bounds a test that would otherwise hang.
 */
export async function until(
  events: EventBusApi,
  pred: () => boolean,
  ms = 5000,
  what = "condition",
): Promise<void> {
  const after = events.lastId();
  if (pred()) return;
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    for await (const _ of events.subscribe({ after, signal: ac.signal })) {
      if (pred()) return;
    }
    throw new Error(`timed out waiting for ${what}`);
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}
