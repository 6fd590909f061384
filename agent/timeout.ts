/**
 * Bounded waits and kestrel's timers: every wait in PID 1 goes through here so
 * none can last forever (and no timer outlives its race, which keeps tests
 * free of leaked timers).
 *
 * Deno's global `setTimeout` is Node's: its first call loads Node's timer,
 * error and inspect modules, about 1.4 MiB of heap that a guest pays for the
 * VM's whole life. As PID 1 kestrel therefore times with `AbortSignal.timeout`
 * (the runtime's own timer); cancelling one only drops its callback and it
 * fires later, harmlessly, since PID 1 never waits for an idle event loop.
 * Elsewhere (tests, host mode) `setTimeout`, so nothing outlives its use.
 *
 * @module
 */

const guest = Deno.pid === 1;

/** Runs `fn` once after `ms`; returns the cancel. */
export function after(ms: number, fn: () => void): () => void {
  if (!guest) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  }
  let live = true;
  // setTimeout reads NaN or a negative delay as 0; AbortSignal.timeout would throw.
  AbortSignal.timeout(Number.isFinite(ms) ? Math.max(0, Math.round(ms)) : 0).addEventListener(
    "abort",
    () => {
      if (live) fn();
    },
    { once: true },
  );
  return () => live = false;
}

/** Runs `fn` every `ms` (not keeping a host process alive); returns the cancel. */
export function every(ms: number, fn: () => void): () => void {
  if (!guest) {
    const t = setInterval(fn, ms);
    Deno.unrefTimer(t as unknown as number);
    return () => clearInterval(t);
  }
  let cancel = () => {};
  const tick = () => {
    cancel = after(ms, () => {
      tick();
      fn();
    });
  };
  tick();
  return () => cancel();
}

/** What {@linkcode within} resolves to when the time ran out. */
export const TIMED_OUT: unique symbol = Symbol("timed out");

/** `promise`, or {@linkcode TIMED_OUT} after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let cancel = () => {};
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    cancel = after(ms, () => resolve(TIMED_OUT));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    cancel();
  }
}

/** Sleeps `ms`, waking early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      cancel();
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const cancel = after(ms, done);
    signal?.addEventListener("abort", done);
  });
}
