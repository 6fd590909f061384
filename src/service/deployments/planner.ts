/**
 * The planner: from what a deployment wants (replicas, revision, rolling
 * update limits) and what its replicas are doing now, the actions that move
 * it one step closer. Pure and level-triggered: it never remembers anything,
 * so running it again after a crash, a restart or a lost event is safe.
 *
 * Rules (docs/deployments.md):
 * - replicas are `<name>-<n>`; new ones take the lowest free numbers, scale
 *   down removes the highest numbers first;
 * - a failed replica (crashed, stopped, unhealthy too long) is deleted and a
 *   missing one forgotten; the slot is then refilled (same number if free);
 * - a config change rolls: at most `replicas + max_surge` replicas exist and
 *   at least `replicas - max_unavailable` are ready; an old replica goes only
 *   when that floor still holds without it.
 *
 * @module
 */
import type { Strategy } from "../../manifest/deployment.ts";

/** What one replica is doing, as the controller observed it. */
export type ReplicaPhase =
  /** running and healthy (or running with no health checking). */
  | "ready"
  /** booting, or running and not yet healthy. */
  | "pending"
  /** stopping or deleting: wait for it to settle. */
  | "busy"
  /** crashed, stopped, never started, or unhealthy beyond the threshold. */
  | "failed"
  /** the replica row exists but its VM does not. */
  | "missing";

export interface ObservedReplica {
  name: string;
  ordinal: number;
  revision: number;
  phase: ReplicaPhase;
  /** The VM's row id (tells a replacement from the VM it replaced). */
  vmId?: number;
  /** Why it failed (for events and conditions). */
  reason?: string;
  detail?: string;
}

export interface PlanInput {
  /** The deployment's name (replica names are `<name>-<ordinal>`). */
  name: string;
  replicas: number;
  /** The revision replicas should run (the stable one while a rollout has failed). */
  revision: number;
  strategy: Strategy;
  deleting: boolean;
  observed: readonly ObservedReplica[];
  /** True when VM `<name>-<ordinal>` exists but is not one of ours (a loose VM). */
  foreign(ordinal: number): boolean;
  /** False while create backoff runs: the plan then holds no creates. */
  mayCreate: boolean;
  /** At most this many creates in this plan (boots already in flight count against it). */
  maxCreates?: number;
}

export type PlanAction =
  | { kind: "create"; name: string; ordinal: number; revision: number }
  | {
    kind: "delete";
    name: string;
    why: "scale_down" | "replace" | "rollout" | "deployment_deleted";
    reason?: string;
    detail?: string;
  }
  | { kind: "forget"; name: string; reason: string };

export interface Plan {
  actions: PlanAction[];
  /** Replicas that exist and are not failed/missing. */
  live: number;
  ready: number;
  /** Live replicas of the target revision. */
  updated: number;
  /** Nothing to do and nothing in flight: replicas == desired, all ready and updated. */
  converged: boolean;
}

export function replicaName(deployment: string, ordinal: number): string {
  return `${deployment}-${ordinal}`;
}

/** The `count` lowest ordinals not in `used` and not foreign. */
function lowestFree(count: number, used: Set<number>, foreign: (n: number) => boolean): number[] {
  const out: number[] = [];
  for (let n = 1; out.length < count; n++) {
    if (!used.has(n) && !foreign(n)) out.push(n);
  }
  return out;
}

const byOrdinalDesc = (a: ObservedReplica, b: ObservedReplica) => b.ordinal - a.ordinal;

export function plan(input: PlanInput): Plan {
  const actions: PlanAction[] = [];
  const failed = input.observed.filter((r) => r.phase === "failed");
  const missing = input.observed.filter((r) => r.phase === "missing");
  const live = input.observed.filter((r) =>
    r.phase === "ready" || r.phase === "pending" || r.phase === "busy"
  );
  const ready = live.filter((r) => r.phase === "ready").length;
  const updatedLive = live.filter((r) => r.revision === input.revision);
  const summary = { live: live.length, ready, updated: updatedLive.length };

  if (input.deleting) {
    for (const r of missing) actions.push({ kind: "forget", name: r.name, reason: "missing" });
    for (const r of [...live, ...failed].sort(byOrdinalDesc)) {
      if (r.phase === "busy") continue;
      actions.push({ kind: "delete", name: r.name, why: "deployment_deleted" });
    }
    return { actions, ...summary, converged: input.observed.length === 0 };
  }

  for (const r of missing) actions.push({ kind: "forget", name: r.name, reason: "missing" });
  for (const r of failed) {
    actions.push({
      kind: "delete",
      name: r.name,
      why: "replace",
      reason: r.reason ?? "failed",
      ...(r.detail ? { detail: r.detail } : {}),
    });
  }

  // Ordinals still held after this plan's deletes and forgets.
  const held = new Set(live.map((r) => r.ordinal));
  let budget = input.maxCreates ?? Infinity;
  const creates = (count: number): number => {
    const n = Math.min(count, budget);
    if (n <= 0 || !input.mayCreate) return 0;
    budget -= n;
    for (const ordinal of lowestFree(n, held, input.foreign)) {
      held.add(ordinal);
      actions.push({
        kind: "create",
        name: replicaName(input.name, ordinal),
        ordinal,
        revision: input.revision,
      });
    }
    return n;
  };

  const N = input.replicas;
  const fresh = updatedLive;
  const old = live.filter((r) => r.revision !== input.revision);

  if (old.length === 0) {
    if (fresh.length < N) creates(N - fresh.length);
    if (fresh.length > N) {
      for (const r of [...fresh].sort(byOrdinalDesc).slice(0, fresh.length - N)) {
        if (r.phase !== "busy") actions.push({ kind: "delete", name: r.name, why: "scale_down" });
      }
    }
  } else {
    const maxTotal = N + input.strategy.max_surge;
    const floor = Math.max(0, N - input.strategy.max_unavailable);
    let total = live.length;
    // Too many of the new revision (scaled down mid-rollout): drop the highest.
    if (fresh.length > N) {
      for (const r of [...fresh].sort(byOrdinalDesc).slice(0, fresh.length - N)) {
        if (r.phase === "busy") continue;
        actions.push({ kind: "delete", name: r.name, why: "scale_down" });
        total--;
      }
    }
    // Surge: new replicas while the total stays within replicas + max_surge.
    const room = Math.min(N - fresh.length, maxTotal - total);
    if (room > 0) total += creates(room);
    // Old replicas go while the ready floor holds without them: not-ready
    // ones first (they serve nothing), then the highest numbers.
    let readyLeft = ready;
    const order = [...old].sort((a, b) =>
      Number(a.phase === "ready") - Number(b.phase === "ready") || b.ordinal - a.ordinal
    );
    for (const r of order) {
      if (r.phase === "busy") continue;
      if (r.phase === "ready") {
        if (readyLeft - 1 < floor) continue;
        readyLeft--;
      }
      actions.push({ kind: "delete", name: r.name, why: "rollout" });
    }
  }

  const converged = actions.length === 0 && failed.length === 0 && missing.length === 0 &&
    live.length === N && ready === N && old.length === 0;
  return { actions, ...summary, converged };
}
