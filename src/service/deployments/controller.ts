/**
 * The deployment controller: level-triggered. A pass reads the desired state
 * (SQLite) and the replicas' VMs, asks the planner what to do, does it
 * through the VM service's public methods, and records conditions. Passes
 * run on VM events of a replica, after each change through the API, after
 * their own actions, and on a periodic resync (which also probes running
 * replicas' health), so a lost event or a daemon restart costs at most one
 * resync period. Passes of one deployment never overlap.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { VolantEvent } from "../../manifest/api.ts";
import { DeploymentEventData, type DeploymentEventType } from "../../manifest/deployment.ts";
import type { Logger } from "../../log/mod.ts";
import type { EventBusApi } from "../contracts.ts";
import type { StateStore } from "../store_port.ts";
import { computeConditions, type ConditionFacts, sameConditions } from "./conditions.ts";
import { observe } from "./observe.ts";
import { type ObservedReplica, type Plan, plan, type PlanAction } from "./planner.ts";
import type { Clock, HealthProbe, ReplicaVms, VmEventSource } from "./ports.ts";
import type { DeploymentRow } from "./repo_port.ts";
import { failureReason, replicaBody } from "./replica_spec.ts";

export interface ControllerOptions {
  /** Periodic resync of every deployment (default 5 s). */
  resyncMs: number;
  /** A running replica whose probes fail this long is replaced (default 30 s). */
  unhealthyAfterMs: number;
  /** Create backoff: first delay, doubled per failure, capped (defaults 1 s, 60 s). */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Failed replicas of a new revision before its rollout is stopped (default 2). */
  rolloutFailureLimit: number;
  /** Grace given to a replica's VMM when it is deleted (default 5 s). */
  stopGraceMs: number;
  /** Deletes run at most this many at once (default 4). */
  deleteConcurrency: number;
  /**
   * Replicas of one deployment booting at once (created, not yet ready);
   * default 2 per CPU core, at least 2. More boots than the host can run in
   * parallel only make every one of them late (and past the health timeout).
   */
  maxBooting: number;
}

export const CONTROLLER_DEFAULTS: ControllerOptions = {
  resyncMs: 5000,
  unhealthyAfterMs: 30_000,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
  rolloutFailureLimit: 2,
  stopGraceMs: 5000,
  deleteConcurrency: 4,
  maxBooting: Math.max(2, 2 * (navigator.hardwareConcurrency ?? 1)),
};

export interface ControllerDeps {
  store: StateStore;
  vms: ReplicaVms;
  events: Pick<EventBusApi, "publish">;
  vmEvents?: VmEventSource;
  probe?: HealthProbe;
  /** Is this stopped VM parked by scale to zero (has its `idle` snapshot)? */
  parked?: (vm: string) => Promise<boolean>;
  clock: Clock;
  log: Logger;
  options?: Partial<ControllerOptions>;
}

/** What the controller remembers between passes (all of it may be lost safely). */
interface DeploymentState {
  running: Promise<void> | null;
  rerun: boolean;
  probe: boolean;
  failures: number;
  nextCreateAt: number;
  retryTimer: unknown;
  createFailure?: { reason: string; message: string };
  /** Names of failed replicas of a revision already counted (revision -> names). */
  rolloutFailed: Map<number, Set<string>>;
  /** Why the rollout of a revision was stopped. */
  rolloutReasons: Map<number, string>;
  /** Replica name -> clock ms since its probes fail. */
  failingSince: Map<string, number>;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class DeploymentController {
  readonly options: ControllerOptions;
  readonly #d: ControllerDeps;
  readonly #states = new Map<string, DeploymentState>();
  readonly #abort = new AbortController();
  #resyncTimer: unknown = null;
  #started = false;

  constructor(deps: ControllerDeps) {
    this.#d = deps;
    this.options = { ...CONTROLLER_DEFAULTS, ...deps.options };
  }

  get #repo() {
    return this.#d.store.deployments;
  }

  /** Follows VM events, starts the resync timer and runs a first pass of every deployment. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#d.vmEvents?.follow((e) => this.#onVmEvent(e), this.#abort.signal);
    this.resync();
  }

  /** Stops timers and waits for passes in flight (VMs are left as they are). */
  async stop(): Promise<void> {
    this.#abort.abort();
    if (this.#resyncTimer !== null) this.#d.clock.clearTimeout(this.#resyncTimer);
    this.#resyncTimer = null;
    for (const s of this.#states.values()) {
      if (s.retryTimer !== null) this.#d.clock.clearTimeout(s.retryTimer);
      s.retryTimer = null;
    }
    await this.settle();
  }

  /** Resolves when no pass is running or queued. */
  async settle(): Promise<void> {
    while (true) {
      const running = [...this.#states.values()].map((s) => s.running).filter((p) => p !== null);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /** One resync: a pass of every deployment with health probes; re-arms the timer. */
  resync(): void {
    if (this.#abort.signal.aborted) return;
    if (this.#resyncTimer !== null) this.#d.clock.clearTimeout(this.#resyncTimer);
    for (const d of this.#repo.list()) this.kick(d.name, { probe: true });
    this.#resyncTimer = this.#d.clock.setTimeout(() => {
      this.#resyncTimer = null;
      this.resync();
    }, this.options.resyncMs);
  }

  /** Asks for a pass of `name` (coalesced with one running or queued). */
  kick(name: string, opts: { probe?: boolean } = {}): void {
    if (this.#abort.signal.aborted) return;
    const s = this.#state(name);
    s.probe ||= opts.probe ?? false;
    if (s.running) {
      s.rerun = true;
      return;
    }
    s.running = this.#drive(name, s);
  }

  /** Health facts the API shows (failing probes) for one replica. */
  failingSince(deployment: string, replica: string): number | undefined {
    return this.#states.get(deployment)?.failingSince.get(replica);
  }

  /** The last create failure of a deployment, if the controller is backing off. */
  createFailure(deployment: string): { reason: string; message: string } | undefined {
    return this.#states.get(deployment)?.createFailure;
  }

  #state(name: string): DeploymentState {
    let s = this.#states.get(name);
    if (!s) {
      s = {
        running: null,
        rerun: false,
        probe: false,
        failures: 0,
        nextCreateAt: 0,
        retryTimer: null,
        rolloutFailed: new Map(),
        rolloutReasons: new Map(),
        failingSince: new Map(),
      };
      this.#states.set(name, s);
    }
    return s;
  }

  #onVmEvent(e: VolantEvent): void {
    if (e.resource_type !== "vm") return;
    const owner = this.#repo.ownerOf(e.resource);
    if (owner) this.kick(owner);
  }

  async #drive(name: string, s: DeploymentState): Promise<void> {
    try {
      do {
        s.rerun = false;
        const probe = s.probe;
        s.probe = false;
        try {
          const acted = await this.#pass(name, s, probe);
          // Level-triggered: after acting, look again until nothing is left to do.
          if (acted) s.rerun = true;
        } catch (error) {
          this.#d.log.error("deployment pass failed", { deployment: name, error: message(error) });
        }
      } while (s.rerun && !this.#abort.signal.aborted);
    } finally {
      s.running = null;
    }
  }

  #publish(type: DeploymentEventType, name: string, data: Record<string, unknown>): void {
    // Our own schemas: a wrong shape is a bug here, caught by the tests.
    const parsed = DeploymentEventData[type].parse(data) as Record<string, unknown>;
    this.#d.events.publish(type, "deployment", name, parsed);
  }

  /** Observes every replica of `d` (probing running ones when asked). */
  async observeAll(d: DeploymentRow, probe = false): Promise<ObservedReplica[]> {
    const s = this.#state(d.name);
    const rows = this.#repo.replicas(d.id);
    const vms = rows.map((r) => this.#d.vms.find(r.vm));
    if (probe && this.#d.probe) {
      const probeDeps = this.#d.probe;
      await Promise.all(rows.map(async (r, i) => {
        const vm = vms[i];
        if (!vm || vm.state !== "running" || vm.health !== "healthy") {
          s.failingSince.delete(r.vm);
          return;
        }
        const ok = await probeDeps.healthy(vm.ip).catch(() => false);
        if (ok) s.failingSince.delete(r.vm);
        else if (!s.failingSince.has(r.vm)) s.failingSince.set(r.vm, this.#d.clock.now());
      }));
    }
    const parkedDep = this.#d.parked;
    const parked = await Promise.all(
      vms.map((vm) =>
        vm?.state === "stopped" && !vm.last_error && parkedDep
          ? parkedDep(vm.name).catch(() => false)
          : false
      ),
    );
    const now = this.#d.clock.now();
    return rows.map((r, i) =>
      observe(r, vms[i], {
        failingSince: s.failingSince.get(r.vm),
        now,
        unhealthyAfterMs: this.options.unhealthyAfterMs,
        parked: parked[i],
      })
    );
  }

  /** One pass; true when it acted (another pass follows). */
  async #pass(name: string, s: DeploymentState, probe: boolean): Promise<boolean> {
    const { store, clock } = this.#d;
    let d = this.#repo.get(name);
    if (!d) {
      this.#forgetState(name);
      return false;
    }
    const observed = await this.#observeAndCount(d, s, probe);
    d = this.#repo.get(name) ?? d;
    const failedRollout = d.failed_revision === d.revision;
    const target = failedRollout ? d.stable_revision : d.revision;
    const targetConfig = target === d.revision
      ? d.config
      : this.#repo.revisionConfig(d.id, target) ?? d.config;
    const now = clock.now();
    const p = plan({
      name: d.name,
      replicas: d.replicas,
      revision: target,
      strategy: d.strategy,
      deleting: d.deleting,
      observed,
      foreign: (ordinal) => {
        const vm = `${d!.name}-${ordinal}`;
        return this.#d.vms.find(vm) !== undefined && this.#repo.ownerOf(vm) === undefined;
      },
      mayCreate: now >= s.nextCreateAt,
      maxCreates: Math.max(
        0,
        this.options.maxBooting - observed.filter((o) => o.phase === "pending").length,
      ),
    });
    if (!p.converged && !p.actions.some((a) => a.kind === "create") && now < s.nextCreateAt) {
      this.#armRetry(name, s);
    }
    const acted = await this.#execute(d, s, p.actions, target, targetConfig);
    if (d.deleting) {
      if (store.deployments.replicas(d.id).length === 0) {
        store.deployments.delete(d.name);
        this.#publish("deployment.deleted", d.name, { replicas: d.replicas });
        this.#forgetState(d.name);
        return false;
      }
      return acted;
    }
    if (!acted) this.#settleStatus(d, s, p, observed);
    return acted;
  }

  /** Observes, and counts failed replicas of a rolling revision (stopping its rollout). */
  async #observeAndCount(
    d: DeploymentRow,
    s: DeploymentState,
    probe: boolean,
  ): Promise<ObservedReplica[]> {
    const observed = await this.observeAll(d, probe);
    if (d.deleting || d.revision === d.stable_revision || d.failed_revision === d.revision) {
      return observed;
    }
    let counted = s.rolloutFailed.get(d.revision);
    if (!counted) s.rolloutFailed.set(d.revision, counted = new Set());
    for (const o of observed) {
      if (o.revision === d.revision && o.phase === "failed") {
        counted.add(`${o.name}#${o.vmId ?? "none"}`);
      }
    }
    if (counted.size >= this.options.rolloutFailureLimit) {
      const last = observed.find((o) => o.revision === d.revision && o.phase === "failed");
      const reason = last
        ? `replica ${last.name} ${last.reason}${last.detail ? `: ${last.detail}` : ""}`
        : `${counted.size} replicas failed`;
      s.rolloutReasons.set(d.revision, reason);
      this.#d.store.deployments.update(d.name, { failed_revision: d.revision }, this.#iso());
      this.#publish("deployment.rollout_failed", d.name, {
        revision: d.revision,
        stable_revision: d.stable_revision,
        reason,
      });
      this.#d.log.warn("rollout failed", { deployment: d.name, revision: d.revision, reason });
    }
    return observed;
  }

  #iso(): string {
    return new Date(this.#d.clock.now()).toISOString();
  }

  /** Runs forgets and deletes (a few at once), then creates in order. True if anything changed. */
  async #execute(
    d: DeploymentRow,
    s: DeploymentState,
    actions: PlanAction[],
    revision: number,
    config: DeploymentRow["config"],
  ): Promise<boolean> {
    let acted = false;
    const removals = actions.filter((a) => a.kind !== "create");
    const queue = [...removals];
    const worker = async () => {
      for (let a = queue.shift(); a; a = queue.shift()) {
        if (await this.#remove(d, a)) acted = true;
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(this.options.deleteConcurrency, queue.length) }, worker),
    );
    for (const a of actions) {
      if (a.kind !== "create" || this.#abort.signal.aborted) continue;
      try {
        await this.#create(d, a.name, a.ordinal, revision, config);
        acted = true;
        s.failures = 0;
        s.nextCreateAt = 0;
        s.createFailure = undefined;
      } catch (error) {
        this.#backoff(d, s, a.name, error);
        break;
      }
    }
    return acted;
  }

  async #remove(d: DeploymentRow, a: Exclude<PlanAction, { kind: "create" }>): Promise<boolean> {
    const repo = this.#repo;
    if (a.kind === "forget") {
      repo.removeReplica(a.name);
      this.#publish("deployment.replica_replaced", d.name, { replica: a.name, reason: a.reason });
      return true;
    }
    try {
      await this.#d.vms.delete(a.name, { graceMs: this.options.stopGraceMs });
    } catch (error) {
      if (!(error instanceof VolantError && error.code === "not_found")) {
        this.#d.log.warn("cannot delete replica, retrying", {
          deployment: d.name,
          replica: a.name,
          error: message(error),
        });
        return false;
      }
    }
    repo.removeReplica(a.name);
    this.#state(d.name).failingSince.delete(a.name);
    if (a.why === "replace") {
      this.#publish("deployment.replica_replaced", d.name, {
        replica: a.name,
        reason: a.reason ?? "failed",
        ...(a.detail ? { detail: a.detail } : {}),
      });
    }
    return true;
  }

  /**
   * Creates one replica: its row first (so a crash leaves a row the next
   * pass sees as missing or failed, never an unowned VM), then the VM.
   * A create that fails leaves neither.
   */
  async #create(
    d: DeploymentRow,
    name: string,
    ordinal: number,
    revision: number,
    config: DeploymentRow["config"],
  ): Promise<void> {
    const repo = this.#repo;
    repo.addReplica({ vm: name, deployment_id: d.id, ordinal, revision }, this.#iso());
    let created = false;
    try {
      await this.#d.vms.create(replicaBody(name, config));
      created = true;
      if (config.env) {
        const current = this.#d.vms.getConfig(name).config.manifest;
        const manifest = {
          ...current,
          workload: { ...current.workload, env: { ...current.workload.env, ...config.env } },
        };
        await this.#d.vms.patchConfig(name, { manifest });
        await this.#d.vms.start(name);
      }
    } catch (error) {
      if (created) {
        await this.#d.vms.delete(name, { graceMs: 0 }).catch((e) =>
          this.#d.log.warn("cannot undo a failed replica create", { replica: name, error: e })
        );
      }
      if (!created || this.#d.vms.find(name) === undefined) repo.removeReplica(name);
      throw error;
    }
  }

  #backoff(d: DeploymentRow, s: DeploymentState, replica: string, error: unknown): void {
    s.failures++;
    const delay = Math.min(
      this.options.backoffBaseMs * 2 ** (s.failures - 1),
      this.options.backoffMaxMs,
    );
    s.nextCreateAt = this.#d.clock.now() + delay;
    s.createFailure = {
      reason: failureReason(error),
      message: `cannot create ${replica}: ${message(error)} (attempt ${s.failures}, next in ${
        Math.round(delay / 100) / 10
      } s)`,
    };
    this.#d.log.warn("replica create failed", {
      deployment: d.name,
      replica,
      error: message(error),
      retry_ms: delay,
    });
    this.#armRetry(d.name, s);
  }

  #armRetry(name: string, s: DeploymentState): void {
    if (s.retryTimer !== null || this.#abort.signal.aborted) return;
    const wait = Math.max(0, s.nextCreateAt - this.#d.clock.now());
    s.retryTimer = this.#d.clock.setTimeout(() => {
      s.retryTimer = null;
      this.kick(name);
    }, wait);
  }

  /** Nothing left to do in this pass: record rollout completion and conditions. */
  #settleStatus(d: DeploymentRow, s: DeploymentState, p: Plan, observed: ObservedReplica[]) {
    const repo = this.#repo;
    const fresh = repo.get(d.name);
    if (!fresh) return;
    if (
      p.converged && fresh.revision !== fresh.stable_revision &&
      fresh.failed_revision !== fresh.revision
    ) {
      repo.update(fresh.name, { stable_revision: fresh.revision }, this.#iso());
      this.#publish("deployment.rolled_out", fresh.name, { revision: fresh.revision });
      fresh.stable_revision = fresh.revision;
    }
    if (p.converged) {
      // Nothing left to create: a past create failure no longer matters.
      s.createFailure = undefined;
      s.failures = 0;
      s.nextCreateAt = 0;
    }
    const failed = fresh.failed_revision === fresh.revision;
    const reason = s.rolloutReasons.get(fresh.revision);
    const facts: ConditionFacts = {
      replicas: fresh.replicas,
      ready: p.ready,
      maxUnavailable: fresh.strategy.max_unavailable,
      converged: p.converged && !failed,
      rollingOut: observed.some((o) => o.revision !== fresh.revision) ||
        fresh.stable_revision !== fresh.revision,
      createFailure: s.createFailure,
      rolloutFailure: failed
        ? {
          revision: fresh.revision,
          stable: fresh.stable_revision,
          reason: reason ?? "replicas of the new revision failed",
        }
        : undefined,
    };
    const next = computeConditions(fresh.conditions, facts, this.#iso());
    // After a daemon restart the reason is only in the stored condition: keep it.
    const prev = fresh.conditions.find((c) => c.type === "RolloutFailed");
    const i = next.findIndex((c) => c.type === "RolloutFailed");
    if (failed && reason === undefined && prev && i >= 0) next[i] = prev;
    if (!sameConditions(fresh.conditions, next)) {
      repo.update(fresh.name, { conditions: next }, this.#iso());
    }
  }

  #forgetState(name: string): void {
    const s = this.#states.get(name);
    if (s?.retryTimer != null) this.#d.clock.clearTimeout(s.retryTimer);
    this.#states.delete(name);
  }
}
