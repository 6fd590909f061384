/**
 * The deployments part of the state-store port (implemented by
 * src/store/deployment_repo.ts). Synchronous, like the rest of the store:
 * callers group writes with `store.tx()`.
 *
 * @module
 */
import type { Condition, DeploymentConfig, Strategy } from "../../manifest/deployment.ts";

/** A deployment as stored: desired state plus the controller's bookkeeping. */
export interface DeploymentRow {
  id: number;
  name: string;
  /** Desired replicas. */
  replicas: number;
  /** The config of `revision`. */
  config: DeploymentConfig;
  revision: number;
  /** The last revision that was fully rolled out (replicas fall back to it after a failed rollout). */
  stable_revision: number;
  /** Set when the rollout of this revision failed; cleared by the next config change. */
  failed_revision: number | null;
  strategy: Strategy;
  /** Delete asked for: the controller removes the replicas, then the row. */
  deleting: boolean;
  conditions: Condition[];
  created_at: string;
  updated_at: string;
}

/** One replica slot: the VM `<deployment>-<ordinal>` and the revision it was made from. */
export interface ReplicaRow {
  vm: string;
  deployment_id: number;
  ordinal: number;
  revision: number;
  created_at: string;
}

export interface DeploymentPatch {
  replicas?: number;
  strategy?: Strategy;
  deleting?: boolean;
  conditions?: Condition[];
  stable_revision?: number;
  failed_revision?: number | null;
}

export interface DeploymentRepo {
  /** Inserts the row and its revision 1; a taken name is a conflict. */
  insert(
    d: { name: string; replicas: number; config: DeploymentConfig; strategy: Strategy },
    now: string,
  ): DeploymentRow;
  get(name: string): DeploymentRow | undefined;
  /** All deployments by name. */
  list(): DeploymentRow[];
  update(name: string, patch: DeploymentPatch, now: string): DeploymentRow;
  /** Stores `config` as revision + 1 (history kept) and clears `failed_revision`. */
  newRevision(name: string, config: DeploymentConfig, now: string): DeploymentRow;
  /** Revision history, newest first. */
  revisions(name: string): { revision: number; config: DeploymentConfig; created_at: string }[];
  revisionConfig(deploymentId: number, revision: number): DeploymentConfig | undefined;
  /** Deletes the row, its history and its replica rows. */
  delete(name: string): void;
  replicas(deploymentId: number): ReplicaRow[];
  addReplica(r: Omit<ReplicaRow, "created_at">, now: string): void;
  removeReplica(vm: string): void;
  /** Replicas of revisions `from` now count as revision `to` (same config: no churn). */
  relabelReplicas(deploymentId: number, from: readonly number[], to: number): void;
  /** The deployment owning VM `vm`, if any. */
  ownerOf(vm: string): string | undefined;
}
