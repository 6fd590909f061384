/**
 * The event bus: every event is first appended to the events table (ids
 * increase strictly), then subscribers are woken. A subscriber reads from the
 * table after its last id, so it sees every event in order with no gaps and
 * nothing is dropped however slowly it reads: its backlog lives in SQLite, not
 * in memory.
 *
 * @module
 */
import type { EventType, ResourceType, VolantEvent } from "../manifest/api.ts";
import type { EventBusApi, EventFilter, EventSubscription } from "./contracts.ts";
import type { StateStore } from "./store_port.ts";

const BATCH = 256;

export class EventBus implements EventBusApi {
  readonly #store: StateStore;
  readonly #now: () => Date;
  readonly #waiters = new Set<() => void>();
  readonly #retention: number;
  #sincePrune = 0;

  constructor(store: StateStore, now: () => Date = () => new Date(), retention = 100_000) {
    this.#store = store;
    this.#now = now;
    this.#retention = retention;
  }

  /** Keeps the table to the newest `retention` events. */
  prune(): number {
    this.#sincePrune = 0;
    return this.#store.events.prune(this.#retention);
  }

  publish(
    type: EventType,
    resourceType: ResourceType,
    resource: string,
    data: Record<string, unknown> = {},
  ): VolantEvent {
    const time = this.#now().toISOString();
    const id = this.#store.events.append({
      type,
      resource_type: resourceType,
      resource,
      time,
      data,
    });
    if (++this.#sincePrune >= 1000) this.prune();
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
    return { id, type, resource_type: resourceType, resource, time, data };
  }

  list(opts: { filter?: EventFilter; after?: number; limit?: number }): VolantEvent[] {
    return this.#store.events.after(opts.after ?? 0, opts.filter, opts.limit ?? 1000);
  }

  lastId(): number {
    return this.#store.events.lastId();
  }

  subscribe(
    opts: { filter?: EventFilter; after?: number; signal?: AbortSignal },
  ): EventSubscription {
    return new Subscription(
      this.#store,
      this.#waiters,
      opts.filter,
      opts.after ?? this.lastId(),
      opts.signal,
    );
  }
}

class Subscription implements EventSubscription {
  #lastId: number;
  #closed = false;
  #wake: (() => void) | null = null;
  readonly #store: StateStore;
  readonly #waiters: Set<() => void>;
  readonly #filter?: EventFilter;
  readonly #onAbort = () => this.close();
  readonly #signal?: AbortSignal;

  constructor(
    store: StateStore,
    waiters: Set<() => void>,
    filter: EventFilter | undefined,
    after: number,
    signal?: AbortSignal,
  ) {
    this.#store = store;
    this.#waiters = waiters;
    this.#filter = filter;
    this.#lastId = after;
    this.#signal = signal;
    if (signal?.aborted) this.#closed = true;
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  get lastId(): number {
    return this.#lastId;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    const wake = this.#wake;
    if (wake) {
      this.#waiters.delete(wake);
      wake();
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<VolantEvent> {
    try {
      while (!this.#closed) {
        // No await between this read and registering the waiter: a publish
        // cannot slip in between, so nothing is missed.
        const batch = this.#store.events.after(this.#lastId, this.#filter, BATCH);
        if (batch.length > 0) {
          for (const e of batch) {
            if (this.#closed) return;
            this.#lastId = e.id;
            yield e;
          }
          continue;
        }
        await new Promise<void>((resolve) => {
          const wake = () => {
            this.#wake = null;
            resolve();
          };
          this.#wake = wake;
          this.#waiters.add(wake);
        });
      }
    } finally {
      this.close();
    }
  }
}
