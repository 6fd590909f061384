/**
 * Supervision: watches VMM exits, applies each VM's restart policy with
 * backoff and a cap, polls guest health, and at daemon start reconciles rows
 * that say a VMM should exist (adopt it, or record that it is gone).
 *
 * @module
 */
import type { VmExit, VmProcess } from "./ports.ts";
import { pollHealth } from "./health.ts";
import { volantHealthUrl } from "./volant_boot.ts";
import { RestartBudget, wantsRestart } from "./restart_policy.ts";
import { ACTIVE_STATES } from "./state_machine.ts";
import type { VmRow } from "./store_port.ts";
import type { VmLifecycle } from "./vms.ts";
import { vmRuntimeDir } from "./vm_spec.ts";

function describeExit(exit: VmExit): string {
  if (exit.oom) return `VMM killed at its cgroup memory limit (out of memory, ${exit.signal})`;
  if (exit.guest) return `guest ${exit.guest === "panic" ? "panicked" : "rebooted"} (VMM stopped)`;
  if (exit.signal) return `VMM killed by ${exit.signal}`;
  return `VMM exited with code ${exit.code}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Supervisor {
  readonly #vms: VmLifecycle;
  readonly #budgets = new Map<string, RestartBudget>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #health = new Map<string, AbortController>();
  #closed = false;

  constructor(vms: VmLifecycle) {
    this.#vms = vms;
  }

  get #ctx() {
    return this.#vms.ctx;
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
    if (this.#closed || exit.requested || this.#vms.stopRequested(name)) return;
    if (this.#vms.procs.get(name) !== proc) return;
    const { store, network, events, log } = this.#ctx;
    let clean = false;
    const handled = await this.#vms.locked(name, async () => {
      if (this.#vms.procs.get(name) !== proc) return false;
      this.#vms.procs.delete(name);
      this.stopHealth(name);
      const row = store.vms.get(name);
      if (!row || row.state !== "running" && row.state !== "starting") return false;
      // A guest reboot (Cloud Hypervisor reboots in place) is a crash, not a power-off.
      clean = exit.code === 0 && exit.signal === null && !exit.guest;
      await network?.deleteTap(row.tap).catch((error) =>
        log.warn("cannot delete TAP after exit", { vm: name, error })
      );
      const common = {
        pid: null,
        pid_start_time: null,
        serial_socket: null,
        health: "unknown" as const,
      };
      if (clean) {
        this.#vms.setState(name, "stopped", { ...common, last_error: null });
        events.publish("vm.stopped", "vm", name, { reason: "guest powered off", code: 0 });
      } else {
        this.#vms.setState(name, "crashed", { ...common, last_error: describeExit(exit) });
        events.publish("vm.crashed", "vm", name, {
          code: exit.code,
          signal: exit.signal,
          pid: proc.pid,
        });
      }
      return true;
    });
    if (handled) this.#afterExit(name, clean);
  }

  /** Applies the restart policy after an exit or a failed automatic restart. */
  #afterExit(name: string, clean: boolean): void {
    if (this.#closed) return;
    const { store, events, options, now } = this.#ctx;
    const row = store.vms.get(name);
    if (!row || row.desired !== "running" || !wantsRestart(row.restart_policy, clean)) return;
    let budget = this.#budgets.get(name);
    if (!budget) this.#budgets.set(name, budget = new RestartBudget(options.restart));
    const decision = budget.next(now().getTime());
    if (!decision.allowed) {
      store.vms.update(name, { last_error: decision.reason }, now().toISOString());
      events.publish("vm.failed", "vm", name, {
        reason: decision.reason,
        attempt: decision.attempt,
      });
      return;
    }
    events.publish("vm.restarting", "vm", name, {
      attempt: decision.attempt,
      delay_ms: decision.delayMs,
      policy: row.restart_policy,
    });
    this.cancelRestart(name);
    const timer = setTimeout(() => {
      this.#timers.delete(name);
      this.#restartNow(name).catch((error) =>
        this.#ctx.log.error("automatic restart failed", { vm: name, error })
      );
    }, decision.delayMs);
    this.#timers.set(name, timer);
  }

  async #restartNow(name: string): Promise<void> {
    let failed = false;
    await this.#vms.locked(name, async () => {
      const row = this.#ctx.store.vms.get(name);
      if (this.#closed || !row || row.desired !== "running") return;
      if (row.state !== "crashed" && row.state !== "stopped") return;
      try {
        await this.#vms.startLocked(name, true);
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
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(name);
    if (resetBudget) this.#budgets.get(name)?.reset();
  }

  forget(name: string): void {
    this.cancelRestart(name);
    this.stopHealth(name);
    this.#budgets.delete(name);
  }

  // ------------------------------------------------------------ health

  pollHealth(row: VmRow): void {
    const { guest, store, events, options, now, log } = this.#ctx;
    if (!guest || this.#closed) return;
    this.stopHealth(row.name);
    const ac = new AbortController();
    this.#health.set(row.name, ac);
    const url = volantHealthUrl(row, store.configs.get(row.id)?.config.manifest);
    pollHealth(guest, row.ip, { ...options.health, url, signal: ac.signal }).then((result) => {
      if (ac.signal.aborted) return;
      this.#health.delete(row.name);
      const current = store.vms.get(row.name);
      if (!current || current.state !== "running" || current.pid !== row.pid) return;
      store.vms.update(row.name, { health: result.health }, now().toISOString());
      events.publish(result.health === "healthy" ? "vm.healthy" : "vm.unhealthy", "vm", row.name, {
        attempts: result.attempts,
        ...(result.detail ? { detail: result.detail } : {}),
      });
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
    const { store, hypervisor, network, events, options, log } = this.#ctx;
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
      await this.#vms.locked(stale.name, async () => {
        const row = store.vms.get(stale.name);
        if (!row) return;
        let proc: VmProcess | null = null;
        try {
          proc = await hypervisor.adopt(row.name, vmRuntimeDir(options, row.name));
        } catch (error) {
          log.warn("adopt failed", { vm: row.name, error });
        }
        if (row.state === "deleting") {
          if (proc) await hypervisor.kill(proc);
          await this.#vms.finishDelete(row, "finished after daemon restart");
          return;
        }
        if (proc) {
          adopted.push(row.name);
          this.#vms.procs.set(row.name, proc);
          const patch = {
            pid: proc.pid,
            pid_start_time: proc.startTime,
            serial_socket: proc.serialSocket,
          };
          if (row.state === "stopping") {
            await this.#vms.finishStop(
              store.vms.update(row.name, patch, this.#ctx.now().toISOString()),
              options.stopGraceMs,
            );
            return;
          }
          const config = store.configs.get(row.id)?.config;
          if (config) {
            await this.#vms.applyNetPolicy(row, config).catch((error: unknown) =>
              log.error("cannot re-apply the network policy of an adopted VM", {
                vm: row.name,
                error,
              })
            );
          }
          const updated = this.#vms.setState(row.name, "running", patch);
          events.publish("vm.adopted", "vm", row.name, { pid: proc.pid, was: row.state });
          this.watch(row.name, proc);
          const mode = store.configs.get(row.id)?.config.network?.mode ?? "bridged";
          if (mode === "bridged") this.pollHealth(updated);
          return;
        }
        lost.push(row.name);
        await network?.deleteTap(row.tap).catch((error) =>
          log.warn("cannot delete TAP of a lost VM", { vm: row.name, error })
        );
        const common = {
          pid: null,
          pid_start_time: null,
          serial_socket: null,
          health: "unknown" as const,
        };
        if (row.state === "stopping") {
          this.#vms.setState(row.name, "stopped", common);
          events.publish("vm.stopped", "vm", row.name, { reason: "VMM gone after daemon restart" });
        } else {
          this.#vms.setState(row.name, "crashed", {
            ...common,
            last_error: "VMM was not running when volantd started",
          });
          events.publish("vm.crashed", "vm", row.name, {
            reason: "VMM was not running when volantd started",
          });
        }
      });
      if (lost.includes(stale.name) && stale.state !== "stopping") {
        this.#afterExit(stale.name, false);
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

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    for (const ac of this.#health.values()) ac.abort();
    this.#health.clear();
  }
}
