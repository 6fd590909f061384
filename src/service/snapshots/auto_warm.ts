/**
 * `warm_start`: every plugin gets its ready snapshot by itself, as
 * `volar plugins warm` would take it, once it is installed or updated (an
 * update replaces the old snapshot, whose artifacts no longer match). Warms
 * run one at a time in the background: an install never waits for one, and a
 * plugin that cannot be warmed (its guest takes no identity hand-off) is
 * logged and cold-boots as before.
 *
 * @module
 */
import type { EventBus } from "../events.ts";
import type { Logger } from "../../log/mod.ts";

/** What auto-warm needs of the snapshot service. */
export interface Warmer {
  warm(plugin: string): Promise<unknown>;
}

export class AutoWarm {
  readonly #events: EventBus;
  readonly #warmer: Warmer;
  readonly #log: Logger;
  #abort: AbortController | null = null;
  #loop: Promise<void> | null = null;
  /** Settles after each warm (tests wait on it instead of sleeping). */
  onWarmed: (plugin: string, error?: unknown) => void = () => {};

  constructor(events: EventBus, warmer: Warmer, log: Logger) {
    this.#events = events;
    this.#warmer = warmer;
    this.#log = log;
  }

  /** Watches plugin installs and updates from now on. */
  start(): void {
    if (this.#loop) return;
    const abort = this.#abort = new AbortController();
    const sub = this.#events.subscribe({
      filter: { types: ["plugin.installed", "plugin.updated"] },
      signal: abort.signal,
    });
    this.#loop = (async () => {
      for await (const e of sub) {
        if (abort.signal.aborted) return;
        await this.#warmOne(e.resource);
      }
    })();
  }

  async #warmOne(plugin: string): Promise<void> {
    this.#log.info("warm start: taking the plugin's ready snapshot", { plugin });
    try {
      await this.#warmer.warm(plugin);
      this.#log.info("warm start: ready snapshot taken", { plugin });
      this.onWarmed(plugin);
    } catch (error) {
      // Expected: a guest without the identity hand-off, a VMM that cannot snapshot, no IP left.
      this.#log.warn("warm start: cannot warm the plugin; its VMs cold-boot", {
        plugin,
        error: error instanceof Error ? error.message : String(error),
      });
      this.onWarmed(plugin, error);
    }
  }

  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#loop;
    this.#loop = null;
  }
}
