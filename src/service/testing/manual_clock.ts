/**
 * TEST DOUBLE of the Clock port (lifecycle/clock.ts): time stands still
 * until the test moves it. `advance(ms)` fires, in order, every timer due by
 * then; `runAll()` fires every pending timer (and those they schedule). Tests
 * of restart backoff and health polling drive time with it instead of
 * sleeping.
 *
 * @module
 */
import type { Clock, TimerId } from "../lifecycle/clock.ts";

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  #ms: number;
  #next = 1;
  #timers: Timer[] = [];
  #listeners = new Set<() => void>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#ms = start;
  }

  now(): Date {
    return new Date(this.#ms);
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const timer = { id: this.#next++, at: this.#ms + Math.max(0, ms), fn };
    this.#timers.push(timer);
    for (const l of [...this.#listeners]) l();
    return timer.id;
  }

  clearTimeout(id: TimerId): void {
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  /** How many timers wait. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Resolves once at least `n` timers wait (e.g. the health poller is between probes). */
  waitForTimers(n = 1): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.#timers.length < n) return;
        this.#listeners.delete(check);
        resolve();
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Moves time forward by `ms`, firing every timer due on the way, earliest first. */
  advance(ms: number): void {
    const end = this.#ms + ms;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= end).sort((a, b) =>
        a.at - b.at || a.id - b.id
      );
      if (due.length === 0) break;
      const t = due[0];
      this.#timers = this.#timers.filter((x) => x !== t);
      this.#ms = Math.max(this.#ms, t.at);
      t.fn();
    }
    this.#ms = end;
  }

  /** Fires every pending timer (moving time to the last one's due time). */
  runAll(): void {
    const last = Math.max(this.#ms, ...this.#timers.map((t) => t.at));
    this.advance(last - this.#ms);
  }
}
