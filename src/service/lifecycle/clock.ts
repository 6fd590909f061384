/**
 * Time as a port: the supervisor's restart timers, health polling and the
 * lifecycle's timestamps read it, so tests can drive time by hand
 * (testing/manual_clock.ts) instead of sleeping.
 *
 * @module
 */

/** An opaque timer handle (each clock hands out its own kind). */
export type TimerId = unknown;

export interface Clock {
  /** Wall-clock time. */
  now(): Date;
  /** Runs `fn` once after `ms`. */
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => new Date(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
};

/** Resolves after `ms` on `clock`; rejects with the signal's reason when aborted first. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
