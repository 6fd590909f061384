/**
 * The lifecycle core, below VmService and the Supervisor (and, through
 * VmService, the deployment controller): it owns the process table, the
 * per-VM locks and stop intent, and the one way a VM's state changes,
 * {@linkcode LifecycleCore.transition}: check the state machine, write the
 * row (clearing the runtime fields when no VMM is left), publish the typed
 * event. Neither VmService nor the Supervisor writes a state or a `vm.*`
 * event any other way.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { VmState, VolantEvent } from "../../manifest/api.ts";
import { parseVmEventData, type VmEventInput } from "../../manifest/vm_events.ts";
import type { ServiceContext } from "../context.ts";
import { KeyedMutex } from "../locks.ts";
import type { VmProcess } from "../ports.ts";
import { ACTIVE_STATES, assertTransition } from "../state_machine.ts";
import type { VmPatch, VmRow } from "../store_port.ts";
import type { Clock } from "./clock.ts";
import { StopIntent } from "./stop_intent.ts";

/** What a row says once no VMM runs for it (stopped, crashed): written here only. */
export const RUNTIME_CLEARED = {
  pid: null,
  pid_start_time: null,
  serial_socket: null,
  health: "unknown",
} as const satisfies VmPatch;

/** What the core tells supervision (implemented by the Supervisor; the core never imports it). */
export interface Supervision {
  /**
   * A VMM runs for `row`: watch its exit, and poll the guest's health when `polled`.
   * `restored`: it came from a snapshot (its boot events are told after vm.healthy).
   */
  booted(row: VmRow, proc: VmProcess, polled: boolean, restored?: boolean): void;
  /** A requested stop begins: health polling ends. */
  halting(name: string): void;
  /** The VM is gone: timers, budgets and polls go. */
  forget(name: string): void;
  /** A user acts on the VM: a pending automatic restart is dropped (`resetBudget`: and forgiven). */
  cancelRestart(name: string, resetBudget?: boolean): void;
}

const UNSUPERVISED: Supervision = {
  booted() {},
  halting() {},
  forget() {},
  cancelRestart() {},
};

export class LifecycleCore {
  readonly ctx: ServiceContext;
  readonly clock: Clock;
  readonly intent = new StopIntent();
  /** Set once by the composition (createServices); unsupervised until then. */
  supervision: Supervision = UNSUPERVISED;
  readonly #procs = new Map<string, VmProcess>();
  readonly #locks = new KeyedMutex();

  constructor(ctx: ServiceContext) {
    this.ctx = ctx;
    this.clock = ctx.clock;
  }

  // ------------------------------------------------------------ locks

  /** Runs `fn` holding `name`'s lock: one lifecycle operation per VM at a time. */
  locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.run(name, fn);
  }

  /** Guards the "caller holds the lock" rule of the operations below the core. */
  assertLocked(name: string): void {
    if (!this.#locks.busy(name)) {
      throw new VolantError("internal", `vm ${name}: lifecycle operation without its lock`);
    }
  }

  // ------------------------------------------------------------ process table

  process(name: string): VmProcess | undefined {
    return this.#procs.get(name);
  }

  track(name: string, proc: VmProcess): void {
    this.#procs.set(name, proc);
  }

  /** Forgets `name`'s VMM (only `proc` when given: a newer one stays). */
  untrack(name: string, proc?: VmProcess): void {
    if (proc === undefined || this.#procs.get(name) === proc) this.#procs.delete(name);
  }

  // ------------------------------------------------------------ rows and events

  find(name: string): VmRow | undefined {
    return this.ctx.store.vms.get(name);
  }

  row(name: string): VmRow {
    const vm = this.find(name);
    if (!vm) throw new VolantError("not_found", `vm ${name} not found`);
    return vm;
  }

  /** Writes fields that are not a state change (desired, last_error, health). */
  update(name: string, patch: VmPatch): VmRow {
    return this.ctx.store.vms.update(name, patch, this.ctx.now().toISOString());
  }

  /**
   * The one state change: the state machine must allow `from -> to`; the row
   * gets `patch` (and, for stopped/crashed, the runtime fields cleared and
   * the VMM untracked); then `event`, when given, is validated against its
   * schema and published. Nothing is written when the check fails.
   */
  transition(name: string, to: VmState, event?: VmEventInput, patch: VmPatch = {}): VmRow {
    const data = event ? parseVmEventData(event) : undefined;
    const { store, now } = this.ctx;
    const settled = !ACTIVE_STATES.includes(to) && to !== "deleting";
    const row = store.tx(() => {
      const current = this.row(name);
      if (current.state !== to) assertTransition(current.state, to, name);
      const full = settled ? { ...RUNTIME_CLEARED, ...patch } : patch;
      return store.vms.update(name, { ...full, state: to }, now().toISOString());
    });
    if (settled) this.#procs.delete(name);
    if (event) this.ctx.events.publish(event.type, "vm", name, data);
    return row;
  }

  /** Publishes a `vm.*` event that comes with no state change (validated). */
  publish(name: string, event: VmEventInput): VolantEvent {
    return this.ctx.events.publish(event.type, "vm", name, parseVmEventData(event));
  }
}
