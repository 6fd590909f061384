/**
 * Supervision: watches VMM exits, applies each VM's restart policy with
 * backoff and a cap, polls guest health, and at daemon start reconciles rows
 * that say a VMM should exist (adopt it, or record that it is gone). It acts
 * only through the lifecycle core (state changes, locks, stop intent) and its
 * operations; its timers run on the core's clock.
 *
 * @module
 */
import type { LifecycleCore, Supervision } from "./lifecycle/core.ts";
import type { VmOperations } from "./lifecycle/operations.ts";
import type { TimerId } from "./lifecycle/clock.ts";
import type { VmExit, VmProcess } from "./ports.ts";
import { pollHealth } from "./health.ts";
import { publishBootEvents } from "./boot_events.ts";
import { volantHealthUrl } from "./volant_boot.ts";
import { RestartBudget, wantsRestart } from "./restart_policy.ts";
import { ACTIVE_STATES } from "./state_machine.ts";
import type { VmRow } from "./store_port.ts";
import { pollsHealth, vmRuntimeDir } from "./vm_spec.ts";

function describeExit(exit: VmExit): string {
  if (exit.oom) return `VMM killed at its cgroup memory limit (out of memory, ${exit.signal})`;
  if (exit.guest) return `guest ${exit.guest === "panic" ? "panicked" : "rebooted"} (VMM stopped)`;
  if (exit.signal) return `VMM killed by ${exit.signal}`;
  return `VMM exited with code ${exit.code}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const LOST = "VMM was not running when volantd started";

export class Supervisor implements Supervision {
  readonly #core: LifecycleCore;
  readonly #ops: VmOperations;
  readonly #budgets = new Map<string, RestartBudget>();
  readonly #timers = new Map<string, TimerId>();
  readonly #health = new Map<string, AbortController>();
  #closed = false;

  constructor(ops: VmOperations) {
    this.#ops = ops;
    this.#core = ops.core;
    this.#core.supervision = this;
  }

  get #ctx() {
    return this.#core.ctx;
  }

  // ------------------------------------------------------------ Supervision

  booted(row: VmRow, proc: VmProcess, polled: boolean, restored = false): void {
    this.watch(row.name, proc);
    if (polled) this.pollHealth(row, restored);
  }

  halting(name: string): void {
    this.stopHealth(name);
  }

  forget(name: string): void {
    this.cancelRestart(name);
    this.stopHealth(name);
    this.#budgets.delete(name);
  }

  // ------------------------------------------------------------ exits

  /** Notices when `proc` exits; an exit nobody asked for is a crash (or a clean power-off). */
  watch(name: string, proc: VmProcess): void {
    const { hypervisor, log } = this.#ctx;
    if (!hypervisor) return;
    hypervisor.exited(proc).then(
      (exit) => this.#onExit(name, proc, exit),
      (error) => log.error("cannot watch VMM", { vm: name, pid: proc.pid, error }),
    ).catch((error) => log.error("exit handling failed", { vm: name, error }));
  }

  async #onExit(name: string, proc: VmProcess, exit: VmExit): Promise<void> {
    const core = this.#core;
    if (this.#closed || core.intent.wasAsked(name, exit)) return;
    if (core.process(name) !== proc) return;
    const { network, log } = this.#ctx;
    await core.locked(name, async () => {
      if (core.process(name) !== proc) return;
      core.untrack(name, proc);
      this.stopHealth(name);
      const row = core.find(name);
      if (!row || row.state !== "running" && row.state !== "starting") return;
      // A guest reboot (Cloud Hypervisor reboots in place) is a crash, not a power-off.
      const clean = exit.code === 0 && exit.signal === null && !exit.guest;
      await network?.deleteTap(row.tap).catch((error) =>
        log.warn("cannot delete TAP after exit", { vm: name, error })
      );
      if (clean) {
        core.transition(name, "stopped", {
          type: "vm.stopped",
          data: { cause: "guest_power_off", reason: "guest powered off", code: 0 },
        }, { last_error: null });
      } else {
        const reason = describeExit(exit);
        core.transition(name, "crashed", {
          type: "vm.crashed",
          data: { cause: "exit", reason, code: exit.code, signal: exit.signal, pid: proc.pid },
        }, { last_error: reason });
      }
      // In the same synchronous step as the event: whoever sees vm.crashed or
      // vm.stopped also sees the restart decision (vm.restarting, its timer).
      this.#afterExit(name, clean);
    });
  }

  /** Applies the restart policy after an exit or a failed automatic restart. */
  #afterExit(name: string, clean: boolean): void {
    if (this.#closed) return;
    const core = this.#core;
    const { options } = this.#ctx;
    const row = core.find(name);
    if (!row || row.desired !== "running" || !wantsRestart(row.restart_policy, clean)) return;
    let budget = this.#budgets.get(name);
    if (!budget) this.#budgets.set(name, budget = new RestartBudget(options.restart));
    const decision = budget.next(core.clock.now().getTime());
    if (!decision.allowed) {
      core.update(name, { last_error: decision.reason });
      core.publish(name, {
        type: "vm.failed",
        data: { cause: "restart_limit", reason: decision.reason, attempt: decision.attempt },
      });
      return;
    }
    core.publish(name, {
      type: "vm.restarting",
      data: { attempt: decision.attempt, delay_ms: decision.delayMs, policy: row.restart_policy },
    });
    this.cancelRestart(name);
    const timer = core.clock.setTimeout(() => {
      this.#timers.delete(name);
      this.#restartNow(name).catch((error) =>
        this.#ctx.log.error("automatic restart failed", { vm: name, error })
      );
    }, decision.delayMs);
    this.#timers.set(name, timer);
  }

  async #restartNow(name: string): Promise<void> {
    let failed = false;
    await this.#core.locked(name, async () => {
      const row = this.#core.find(name);
      if (this.#closed || !row || row.desired !== "running") return;
      if (row.state !== "crashed" && row.state !== "stopped") return;
      try {
        await this.#ops.start(name, true);
      } catch (error) {
        this.#ctx.log.warn("automatic restart did not boot", { vm: name, error: message(error) });
        failed = true;
      }
    });
    if (failed) this.#afterExit(name, false);
  }

  /** Drops a pending automatic restart; `resetBudget` after an explicit user action. */
  cancelRestart(name: string, resetBudget = false): void {
    const timer = this.#timers.get(name);
    if (timer !== undefined) this.#core.clock.clearTimeout(timer);
    this.#timers.delete(name);
    if (resetBudget) this.#budgets.get(name)?.reset();
  }

  // ------------------------------------------------------------ health

  /**
   * Polls until healthy or the deadline. A booted guest's account of its boot (workload
   * started, agent joined) is published just before vm.healthy; a restored one's after it,
   * since its boot happened before the snapshot and the extra request would only delay
   * the verdict.
   */
  pollHealth(row: VmRow, restored = false): void {
    const { guest, store, options, log } = this.#ctx;
    if (!guest || this.#closed) return;
    const core = this.#core;
    this.stopHealth(row.name);
    const ac = new AbortController();
    this.#health.set(row.name, ac);
    const url = volantHealthUrl(row, store.configs.get(row.id)?.config.manifest);
    pollHealth(guest, row.ip, { ...options.health, url, signal: ac.signal, clock: core.clock })
      .then(async (result) => {
        if (ac.signal.aborted) return;
        const bootEvents = result.health === "healthy" && !url;
        if (bootEvents && !restored) {
          await publishBootEvents(guest, (e) => core.publish(row.name, e), row.ip, ac.signal);
          if (ac.signal.aborted) return;
        }
        this.#health.delete(row.name);
        const current = core.find(row.name);
        if (!current || current.state !== "running" || current.pid !== row.pid) return;
        core.update(row.name, { health: result.health });
        const data = {
          attempts: result.attempts,
          ...(result.detail ? { detail: result.detail } : {}),
        };
        core.publish(
          row.name,
          result.health === "healthy"
            ? { type: "vm.healthy", data }
            : { type: "vm.unhealthy", data },
        );
        if (bootEvents && restored) {
          publishBootEvents(guest, (e) => core.publish(row.name, e), row.ip, ac.signal)
            .catch((error) => log.warn("boot events failed", { vm: row.name, error }));
        }
      }, (error) => {
        if (!ac.signal.aborted) log.warn("health polling failed", { vm: row.name, error });
      });
  }

  stopHealth(name: string): void {
    this.#health.get(name)?.abort();
    this.#health.delete(name);
  }

  // ------------------------------------------------------------ reconcile

  /**
   * At daemon start: for every row in starting/running/stopping, adopt the
   * VMM from its runtime dir or record that it is gone (crashed, or stopped
   * if it was stopping); finish interrupted deletes; sweep stray TAPs.
   */
  async reconcile(): Promise<{ adopted: string[]; lost: string[] }> {
    const { store, hypervisor, network, log } = this.#ctx;
    const adopted: string[] = [];
    const lost: string[] = [];
    const rows = store.vms.inStates([...ACTIVE_STATES, "deleting"]);
    if (!hypervisor) {
      if (rows.length > 0) {
        log.warn("no hypervisor driver: VMs recorded as active are left as they are", {
          vms: rows.map((r) => r.name),
        });
      }
      return { adopted, lost };
    }
    for (const stale of rows) {
      const outcome = await this.#core.locked(stale.name, () => this.#reconcileOne(stale.name));
      if (outcome === "adopted") adopted.push(stale.name);
      if (outcome === "lost") {
        lost.push(stale.name);
        if (stale.state !== "stopping") this.#afterExit(stale.name, false);
      }
    }
    if (network) {
      const owned = new Set(store.vms.inStates(ACTIVE_STATES).map((r) => r.tap));
      const removed = await network.sweepTaps(owned).catch((error) => {
        log.warn("TAP sweep failed", { error });
        return [] as string[];
      });
      if (removed.length > 0) log.info("removed stray TAPs", { taps: removed });
    }
    return { adopted, lost };
  }

  /** One row, lock held: adopt, finish, or record it lost. */
  async #reconcileOne(name: string): Promise<"adopted" | "lost" | "finished" | "gone"> {
    const core = this.#core;
    const { store, network, options, log } = this.#ctx;
    const hypervisor = this.#ctx.hypervisor!;
    const row = core.find(name);
    if (!row) return "gone";
    let proc: VmProcess | null = null;
    try {
      proc = await hypervisor.adopt(name, vmRuntimeDir(options, name));
    } catch (error) {
      log.warn("adopt failed", { vm: name, error });
    }
    if (row.state === "deleting") {
      const vmm = proc;
      if (vmm) await core.intent.during(name, () => hypervisor.kill(vmm));
      await this.#ops.remove(row, "finished after daemon restart");
      return "finished";
    }
    if (proc) {
      core.track(name, proc);
      const patch = {
        pid: proc.pid,
        pid_start_time: proc.startTime,
        serial_socket: proc.serialSocket,
      };
      if (row.state === "stopping") {
        await this.#ops.finishStop(core.update(name, patch), options.stopGraceMs);
        return "adopted";
      }
      const config = store.configs.get(row.id)?.config;
      if (config) {
        await this.#ops.applyNetPolicy(row, config).catch((error: unknown) =>
          log.error("cannot re-apply the network policy of an adopted VM", { vm: name, error })
        );
      }
      const updated = core.transition(name, "running", {
        type: "vm.adopted",
        data: { pid: proc.pid, was: row.state },
      }, patch);
      const polled = pollsHealth(true, this.#ctx.hypervisor, config?.network?.mode ?? "bridged");
      this.booted(updated, proc, polled);
      return "adopted";
    }
    await network?.deleteTap(row.tap).catch((error) =>
      log.warn("cannot delete TAP of a lost VM", { vm: name, error })
    );
    if (row.state === "stopping") {
      core.transition(name, "stopped", {
        type: "vm.stopped",
        data: { cause: "daemon_restart", reason: "VMM gone after daemon restart" },
      });
    } else {
      core.transition(name, "crashed", {
        type: "vm.crashed",
        data: { cause: "lost", reason: LOST },
      }, { last_error: LOST });
    }
    return "lost";
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) this.#core.clock.clearTimeout(timer);
    this.#timers.clear();
    for (const ac of this.#health.values()) ac.abort();
    this.#health.clear();
  }
}
