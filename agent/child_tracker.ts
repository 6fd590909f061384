/**
 * The pids of children Deno itself waits on (every `Deno.Command` kestrel
 * spawns). The reaper must never reap these, or Deno loses their exit status.
 * JavaScript is single-threaded: a pid is added right after `spawn()` returns,
 * before any signal listener can run, so there is no window where the reaper
 * sees an untracked workload.
 *
 * @module
 */

export class ChildTracker {
  readonly #pids = new Set<number>();

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
