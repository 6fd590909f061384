/**
 * Scale to zero: a running VM whose config has `idle_timeout_s` and that has
 * had no request through the agent proxy for that long is snapshot (as
 * `idle`) and stopped; the next request restores it from that snapshot and
 * is held until the guest answers its health check. A restore that cannot
 * happen (snapshot refused or damaged) falls back to a cold boot, so the
 * request is still answered. The parked state is on disk (the VM is stopped
 * and has an `idle` snapshot), so it survives a daemon restart.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { VmServiceApi } from "../contracts.ts";
import type { ServiceContext } from "../context.ts";
import type { VmRecord } from "../../manifest/api.ts";
import type { CreateSnapshotBody, RestoreVmBody, SnapshotRecord } from "../../manifest/snapshot.ts";
import type { SnapshotFiles } from "./files.ts";

/** What parking needs of the snapshot service; an interface so that idle.ts and service.ts do
 * not import each other. */
export interface ParkingSnapshots {
  readonly files: Pick<SnapshotFiles, "get" | "remove">;
  create(vm: string, input: CreateSnapshotBody): Promise<SnapshotRecord>;
  restore(vm: string, input: RestoreVmBody): Promise<VmRecord>;
}

/** The snapshot name scale to zero uses (one per VM, replaced at each park). */
export const IDLE_SNAPSHOT = "idle";

export interface IdleOptions {
  /** How often idle VMs are looked for (default 1 s). */
  tickMs?: number;
  /** How long a wake waits for the restored guest's health (default 60 s). */
  wakeTimeoutMs?: number;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class IdleParker {
  readonly #snapshots: ParkingSnapshots;
  readonly #ctx: ServiceContext;
  readonly #vms: VmServiceApi;
  readonly #tickMs: number;
  readonly #wakeTimeoutMs: number;
  readonly #last = new Map<string, number>();
  readonly #inflight = new Map<string, number>();
  readonly #waking = new Map<string, Promise<void>>();
  readonly #parking = new Set<string>();
  #timer?: ReturnType<typeof setInterval>;

  constructor(
    snapshots: ParkingSnapshots,
    ctx: ServiceContext,
    vms: VmServiceApi,
    opts: IdleOptions = {},
  ) {
    this.#snapshots = snapshots;
    this.#ctx = ctx;
    this.#vms = vms;
    this.#tickMs = opts.tickMs ?? 1000;
    this.#wakeTimeoutMs = opts.wakeTimeoutMs ?? 60_000;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.tick().catch((e) => this.#ctx.log.error("idle check failed", { error: message(e) }));
    }, this.#tickMs);
    Deno.unrefTimer(this.#timer);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #timeoutOf(name: string): number | undefined {
    const { store } = this.#ctx;
    const row = store.vms.get(name);
    return row ? store.configs.get(row.id)?.config.idle_timeout_s : undefined;
  }

  /** Parks every running VM idle for longer than its timeout. */
  async tick(): Promise<void> {
    const { store } = this.#ctx;
    const running = store.vms.list({
      state: "running",
      limit: 1000,
      offset: 0,
      sort: "name",
      order: "asc",
    }).items;
    const now = Date.now();
    for (const row of running) {
      const timeout = this.#timeoutOf(row.name);
      if (!timeout || this.#parking.has(row.name) || this.#waking.has(row.name)) continue;
      if ((this.#inflight.get(row.name) ?? 0) > 0) continue;
      const last = this.#last.get(row.name);
      if (last === undefined) {
        this.#last.set(row.name, now); // first seen (booted, restored or adopted): the clock starts
        continue;
      }
      if (now - last >= timeout * 1000) await this.#park(row.name);
    }
  }

  async #park(name: string): Promise<void> {
    this.#parking.add(name);
    try {
      await this.#snapshots.files.remove(name, IDLE_SNAPSHOT).catch((e) => {
        if (!(e instanceof VolantError && e.code === "not_found")) throw e;
      });
      await this.#snapshots.create(name, { name: IDLE_SNAPSHOT, stop: true });
      this.#last.delete(name);
      this.#ctx.log.info("parked idle VM", { vm: name });
    } catch (e) {
      // Still running (or stopped by someone else meanwhile): try again after another timeout.
      this.#last.set(name, Date.now());
      this.#ctx.log.warn("cannot park idle VM", { vm: name, error: message(e) });
    } finally {
      this.#parking.delete(name);
    }
  }

  /**
   * Called by the agent proxy before it forwards a request: counts the
   * request as activity and, when the VM is parked, restores it first.
   * Returns the function to call when the request is over.
   */
  async enter(name: string): Promise<() => void> {
    this.#inflight.set(name, (this.#inflight.get(name) ?? 0) + 1);
    this.#last.set(name, Date.now());
    const leave = () => {
      this.#inflight.set(name, Math.max(0, (this.#inflight.get(name) ?? 1) - 1));
      this.#last.set(name, Date.now());
    };
    try {
      if (this.#parking.has(name)) await this.#afterPark(name);
      await this.#wakeIfParked(name);
      return leave;
    } catch (e) {
      leave();
      throw e;
    }
  }

  /** A request that arrives mid-park waits for the park to end, then wakes the VM. */
  async #afterPark(name: string): Promise<void> {
    while (this.#parking.has(name)) await new Promise((r) => setTimeout(r, 20));
  }

  /** True when `name` is parked: stopped, with an idle timeout and its `idle` snapshot. */
  async isParked(name: string): Promise<boolean> {
    const row = this.#ctx.store.vms.get(name);
    if (!row || row.state !== "stopped" || !this.#timeoutOf(name)) return false;
    return await this.#snapshots.files.get(name, IDLE_SNAPSHOT).then(
      () => true,
      (e) => {
        if (e instanceof VolantError && e.code === "not_found") return false;
        throw e;
      },
    );
  }

  async #wakeIfParked(name: string): Promise<void> {
    const pending = this.#waking.get(name);
    if (pending) return await pending;
    if (!(await this.isParked(name))) return;
    const wake = this.#wake(name).finally(() => this.#waking.delete(name));
    this.#waking.set(name, wake);
    await wake;
  }

  async #wake(name: string): Promise<void> {
    const { log, guest } = this.#ctx;
    const t0 = performance.now();
    let vm;
    try {
      vm = await this.#snapshots.restore(name, { from: IDLE_SNAPSHOT });
    } catch (e) {
      log.warn("restore of a parked VM failed: cold boot instead", { vm: name, error: message(e) });
      vm = await this.#vms.start(name);
    }
    // Held until the guest answers: the request must not meet a guest still waking.
    if (guest) {
      const deadline = Date.now() + this.#wakeTimeoutMs;
      while (!(await guest.health(vm.ip, { timeoutMs: 1000 })).ok) {
        if (Date.now() > deadline) {
          throw new VolantError("upstream", `vm ${name} did not answer after waking`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.#last.set(name, Date.now());
    log.info("woke parked VM", { vm: name, ms: Math.round(performance.now() - t0) });
  }
}
