/**
 * Conditions: the deployment's status in a few typed, reasoned lines
 * (Available, Progressing, ReplicaFailure, RolloutFailed). A condition keeps
 * its `since` while its status and reason stay the same. Pure.
 *
 * @module
 */
import type { Condition } from "../../manifest/deployment.ts";

export interface ConditionFacts {
  replicas: number;
  ready: number;
  maxUnavailable: number;
  /** Replicas == desired, all ready, all of the current revision. */
  converged: boolean;
  /** A revision is rolling out (replicas of another revision exist, or not yet marked stable). */
  rollingOut: boolean;
  /** The last replica create failed, and why (cleared by a successful create). */
  createFailure?: { reason: string; message: string };
  rolloutFailure?: { revision: number; stable: number; reason: string };
}

export function computeConditions(
  previous: readonly Condition[],
  f: ConditionFacts,
  now: string,
): Condition[] {
  const next: Omit<Condition, "since">[] = [];
  const floor = Math.max(0, f.replicas - f.maxUnavailable);
  next.push({
    type: "Available",
    status: f.ready >= floor,
    reason: f.ready >= floor ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
    message: `${f.ready} of ${f.replicas} replicas ready (at least ${floor} wanted)`,
  });
  next.push(
    f.converged
      ? { type: "Progressing", status: false, reason: "Converged", message: "nothing to do" }
      : {
        type: "Progressing",
        status: true,
        reason: f.rolloutFailure
          ? "RolloutStopped"
          : f.rollingOut
          ? "ReplicasUpdating"
          : "ReplicasConverging",
        message: f.rollingOut
          ? "replacing replicas of an older revision"
          : "creating, replacing or removing replicas",
      },
  );
  if (f.createFailure) {
    next.push({ type: "ReplicaFailure", status: true, ...f.createFailure });
  }
  if (f.rolloutFailure) {
    next.push({
      type: "RolloutFailed",
      status: true,
      reason: "ReplicasFailed",
      message:
        `revision ${f.rolloutFailure.revision} failed (${f.rolloutFailure.reason}); replicas of revision ${f.rolloutFailure.stable} keep serving; update the config or roll back`,
    });
  }
  return next.map((c) => {
    const old = previous.find((p) => p.type === c.type);
    const same = old && old.status === c.status && old.reason === c.reason;
    return { ...c, since: same ? old.since : now };
  });
}

/** True when two condition lists say the same (ignoring `since`). */
export function sameConditions(a: readonly Condition[], b: readonly Condition[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((c, i) =>
    c.type === b[i].type && c.status === b[i].status && c.reason === b[i].reason &&
    c.message === b[i].message
  );
}
