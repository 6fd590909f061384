/**
 * The API record of a deployment: its desired state, counts, each replica's
 * state/health/IP, the rollout phase and the conditions. Pure.
 *
 * @module
 */
import type { VmRecord } from "../../manifest/api.ts";
import type { DeploymentRecord } from "../../manifest/deployment.ts";
import { type ObservedReplica, plan } from "./planner.ts";
import { replicaStatus } from "./observe.ts";
import type { DeploymentRow } from "./repo_port.ts";

export function deploymentRecord(
  d: DeploymentRow,
  observed: readonly ObservedReplica[],
  vms: ReadonlyMap<string, VmRecord>,
): DeploymentRecord {
  const failed = d.failed_revision === d.revision;
  const p = plan({
    name: d.name,
    replicas: d.replicas,
    revision: failed ? d.stable_revision : d.revision,
    strategy: d.strategy,
    deleting: d.deleting,
    observed,
    foreign: () => false,
    mayCreate: true,
  });
  const rollout = d.deleting
    ? "deleting"
    : failed
    ? "failed"
    : p.converged && d.stable_revision === d.revision
    ? "complete"
    : "progressing";
  return {
    name: d.name,
    replicas: d.replicas,
    config: d.config,
    strategy: { ...d.strategy },
    revision: d.revision,
    stable_revision: d.stable_revision,
    current: observed.filter((o) => o.phase !== "missing").length,
    ready: observed.filter((o) => o.phase === "ready").length,
    updated:
      observed.filter((o) =>
        o.revision === d.revision && o.phase !== "missing" && o.phase !== "failed"
      ).length,
    rollout,
    conditions: d.conditions,
    replica_status: observed.map((o) => replicaStatus(o, vms.get(o.name))),
    created_at: d.created_at,
    updated_at: d.updated_at,
  };
}
