/**
 * Observation: a replica's phase from its VM record (and, for a running
 * healthy VM, how long the controller's own probes have been failing).
 * Pure.
 *
 * @module
 */
import type { VmRecord } from "../../manifest/api.ts";
import type { ReplicaStatus } from "../../manifest/deployment.ts";
import type { ReplicaRow } from "./repo_port.ts";
import type { ObservedReplica } from "./planner.ts";

export interface ObserveOptions {
  /** Since when (clock ms) probes of this replica have failed, if they have. */
  failingSince?: number;
  now: number;
  /** How long a running replica may fail its probes before it is replaced. */
  unhealthyAfterMs: number;
  /** The VM is parked by scale to zero (stopped with its `idle` snapshot): it wakes on demand. */
  parked?: boolean;
}

export function observe(
  replica: ReplicaRow,
  vm: VmRecord | undefined,
  opts: ObserveOptions,
): ObservedReplica {
  const base = { name: replica.vm, ordinal: replica.ordinal, revision: replica.revision };
  if (!vm) return { ...base, phase: "missing", reason: "missing" };
  const known = { ...base, vmId: vm.id };
  switch (vm.state) {
    case "starting":
      return { ...known, phase: "pending" };
    case "stopping":
    case "deleting":
      return { ...known, phase: "busy" };
    case "crashed":
      return { ...known, phase: "failed", reason: "crashed", detail: vm.last_error };
    case "stopped":
      // Parked, not failed: replacing it would undo scale to zero.
      if (opts.parked && !vm.last_error) return { ...known, phase: "ready" };
      return {
        ...known,
        phase: "failed",
        reason: vm.last_error?.startsWith("start failed") ? "start_failed" : "stopped",
        detail: vm.last_error,
      };
    case "created":
      // The controller starts what it creates within one pass: a replica
      // still `created` was interrupted (daemon restart) and is replaced.
      return { ...known, phase: "failed", reason: "start_interrupted" };
    case "running": {
      if (vm.health === "unhealthy") {
        return { ...known, phase: "failed", reason: "unhealthy", detail: vm.last_error };
      }
      if (vm.health === "starting") return { ...known, phase: "pending" };
      if (opts.failingSince !== undefined) {
        if (opts.now - opts.failingSince >= opts.unhealthyAfterMs) {
          return {
            ...known,
            phase: "failed",
            reason: "unhealthy",
            detail: `health probes failing for ${
              Math.round((opts.now - opts.failingSince) / 1000)
            } s`,
          };
        }
        return { ...known, phase: "pending" };
      }
      // healthy, or unknown = no health checking for this VM (counts as ready).
      return { ...known, phase: "ready" };
    }
  }
}

/** The API's view of one replica. */
export function replicaStatus(o: ObservedReplica, vm: VmRecord | undefined): ReplicaStatus {
  return {
    name: o.name,
    ordinal: o.ordinal,
    revision: o.revision,
    state: vm?.state ?? "missing",
    health: vm?.health ?? "unknown",
    ...(vm?.ip ? { ip: vm.ip } : {}),
    ready: o.phase === "ready",
  };
}
