/**
 * Stop intent: the one answer to "was this VMM exit asked for?".
 *
 * Two facts feed it. While a stop, delete or start rollback shuts a VMM down,
 * the VM is marked here (in memory, for this daemon's lifetime). Across a
 * daemon restart memory is gone, so the driver keeps the on-disk marker
 * (`stop-requested` in the VM's runtime dir, written when it is asked to shut
 * down or kill) and reports it as `VmExit.requested`. Nothing else in the
 * service reads either fact: it asks {@linkcode StopIntent.wasAsked}.
 *
 * @module
 */
import type { VmExit } from "../ports.ts";

export class StopIntent {
  readonly #asked = new Map<string, number>();

  /** Runs `fn` with `name` marked as being stopped on purpose (nests). */
  async during<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.#asked.set(name, (this.#asked.get(name) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const n = (this.#asked.get(name) ?? 1) - 1;
      if (n > 0) this.#asked.set(name, n);
      else this.#asked.delete(name);
    }
  }

  /** True while an asked-for stop of `name` runs. */
  pending(name: string): boolean {
    return this.#asked.has(name);
  }

  /** True when this exit of `name`'s VMM was asked for (now, or before a daemon restart). */
  wasAsked(name: string, exit: Pick<VmExit, "requested">): boolean {
    return exit.requested || this.pending(name);
  }
}
