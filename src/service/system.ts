/**
 * System info: version, uptime, hypervisor availability and accelerator, network and counts.
 *
 * @module
 */
import type { PciList, SystemInfo } from "../manifest/api.ts";
import type { SystemServiceApi } from "./contracts.ts";
import type { ServiceContext } from "./context.ts";
import type { Ipam } from "./ipam.ts";
import type { Hypervisor } from "./ports.ts";

export class SystemService implements SystemServiceApi {
  readonly #ctx: ServiceContext;
  readonly #ipam: Ipam;
  readonly #startedAt: Date;

  constructor(ctx: ServiceContext, ipam: Ipam) {
    this.#ctx = ctx;
    this.#ipam = ipam;
    this.#startedAt = ctx.now();
  }

  /** PCI devices other than bridges (class 06xx), and whether passthrough works here. */
  async pci(): Promise<PciList> {
    const pci = this.#ctx.pci;
    if (!pci) {
      return { available: false, reason: "PCI passthrough is not set up in volantd", items: [] };
    }
    const cap = await pci.capability();
    const items = (await pci.list()).filter((d) => !d.class.startsWith("06"));
    return { available: cap.ok, ...(cap.ok ? {} : { reason: cap.reason }), items };
  }

  async info(): Promise<SystemInfo> {
    const { store, options, hypervisor } = this.#ctx;
    const hv = hypervisor
      ? await hypervisor.available()
      : { ok: false as const, reason: "no hypervisor driver is configured" };
    const accel = hypervisor?.accelerator ? await hypervisor.accelerator() : undefined;
    const byState = store.vms.countByState();
    const plugins = store.plugins.list();
    const pool = this.#ipam.pool;
    return {
      version: options.version,
      started_at: this.#startedAt.toISOString(),
      uptime_s: (this.#ctx.now().getTime() - this.#startedAt.getTime()) / 1000,
      state_dir: options.stateDir,
      hypervisor: {
        kind: hypervisor?.kind ?? "none",
        available: hv.ok,
        ...(hv.ok ? {} : { reason: hv.reason }),
        ...(accel
          ? {
            accel: {
              mode: accel.mode,
              accel: accel.accel,
              reason: accel.reason,
              probed_at: accel.probedAt,
              probe_ms: accel.probeMs,
              cached: accel.cached,
            },
          }
          : {}),
        jail: jailInfo(hypervisor?.jailStatus, hypervisor?.kind),
      },
      network: {
        bridge: options.bridge,
        subnet: pool.subnet,
        gateway: pool.gateway,
        pool_start: pool.start,
        pool_end: pool.end,
        leased: store.leases.count(),
        capacity: pool.capacity,
      },
      vms: { total: Object.values(byState).reduce((a, b) => a + b, 0), by_state: byState },
      plugins: { total: plugins.length, enabled: plugins.filter((p) => p.enabled).length },
    };
  }
}

/** The jail as system/info shows it (snake_case), or "off" for a driver without one. */
function jailInfo(j: Hypervisor["jailStatus"], kind: string | undefined) {
  if (!j) {
    return {
      enabled: false,
      user: null,
      uid: null,
      gid: null,
      seccomp: false,
      cgroup: null,
      mount_ns: false,
      notes: [`the ${kind ?? "configured"} driver has no VMM jail`],
    };
  }
  const { mountNs, ...rest } = j;
  return { ...rest, mount_ns: mountNs };
}
