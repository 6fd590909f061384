/**
 * What the agent knows about itself, shared by the boot sequence (which fills
 * it in) and the HTTP API (which reads it).
 *
 * @module
 */
import type { PluginManifest } from "../src/manifest/plugin.ts";
import type { HealthMonitor } from "./health.ts";
import type { Supervisor } from "./supervisor.ts";

/** The network as configured, for /v1/status. */
export interface NetworkStatus {
  interface: string;
  address?: string;
  prefix?: number;
  gateway?: string;
  mtu?: number;
  dns: string[];
  hostname?: string;
  /** Where resolv.conf and hosts went ("/etc" or a bind-mounted fallback). */
  etc?: string;
  /** In DHCP mode: leases applied so far, the last one's time (s), server and when. */
  dhcp?: { leases: number; lease_s?: number; server?: string; at?: string };
}

export interface AgentState {
  version: string;
  /** performance.now() at kestrel start: every timing is relative to it. */
  t0: number;
  /** "host" when kestrel is not PID 1 (tests, benchmarks). */
  bootMode: "initramfs" | "rootfs" | "host";
  manifest: PluginManifest | null;
  supervisor: Supervisor | null;
  health: HealthMonitor | null;
  /** Boot milestones in ms since t0 (manifest, network, rootfs, workload_spawned, ready). */
  timings: Record<string, number>;
  network: NetworkStatus | null;
  shuttingDown: boolean;
  /** Set when the shim started the workload before kestrel (guest uptimes in ms). */
  workloadFirst?: WorkloadFirst;
}

/** When the workload started (by the shim) and when kestrel joined, as guest uptime. */
export interface WorkloadFirst {
  pid: number;
  workload_started_uptime_ms?: number;
  /** When kestrel's boot sequence ran (the adoption). */
  agent_started_uptime_ms?: number;
  /** When kestrel's API listened. */
  agent_joined_uptime_ms?: number;
}

/** A fresh state with nothing known yet. */
export function newState(
  version: string,
  bootMode: AgentState["bootMode"],
  t0 = performance.now(),
): AgentState {
  return {
    version,
    t0,
    bootMode,
    manifest: null,
    supervisor: null,
    health: null,
    timings: {},
    network: null,
    shuttingDown: false,
  };
}

/** Records milestone `name` now. */
export function mark(state: AgentState, name: string): number {
  const ms = Math.round((performance.now() - state.t0) * 10) / 10;
  state.timings[name] = ms;
  return ms;
}
