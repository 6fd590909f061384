/**
 * The pids of children Deno itself waits on (every `Deno.Command` kestrel
 * spawns). The reaper must never reap these, or Deno loses their exit status.
 * JavaScript is single-threaded: a pid is added right after `spawn()` returns,
 * before any signal listener can run, so there is no window where the reaper
 * sees an untracked workload.
 *
 * @module
 */
import type { WaitStatus } from "./_libc.ts";

export class ChildTracker {
  readonly #pids = new Set<number>();
  /** Children Deno did not spawn (the workload the shim started): the reaper reaps them. */
  readonly #adopted = new Map<number, (status: WaitStatus) => void>();

  /**
   * Registers `pid`, a child this process inherited; the promise settles with
   * its status once the reaper reaps it. Register before the reaper starts.
   */
  adopt(pid: number): Promise<WaitStatus> {
    return new Promise((resolve) => this.#adopted.set(pid, resolve));
  }

  isAdopted(pid: number): boolean {
    return this.#adopted.has(pid);
  }

  /** The reaper reaped adopted `pid`: hand over its status. */
  settle(pid: number, status: WaitStatus): void {
    const resolve = this.#adopted.get(pid);
    this.#adopted.delete(pid);
    resolve?.(status);
  }

  add(pid: number): void {
    this.#pids.add(pid);
  }

  delete(pid: number): void {
    this.#pids.delete(pid);
  }

  has(pid: number): boolean {
    return this.#pids.has(pid);
  }

  get size(): number {
    return this.#pids.size;
  }
}
