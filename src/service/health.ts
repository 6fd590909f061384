/**
 * Guest health: poll kestrel's /healthz until it answers 200 or the overall
 * timeout passes.
 *
 * @module
 */
import { type Clock, sleep, systemClock } from "./lifecycle/clock.ts";
import type { GuestAgent } from "./ports.ts";

export interface HealthPollOptions {
  /** Probe this URL instead of kestrel's /healthz (Volant-contract guests). */
  url?: string;
  timeoutMs: number;
  intervalMs: number;
  signal: AbortSignal;
  /** Whose time the timeout and interval run on (default: the system clock). */
  clock?: Clock;
}

/** Resolves `healthy` or `unhealthy` (with the last reason); rejects only when aborted. */
export async function pollHealth(
  guest: GuestAgent,
  ip: string,
  opts: HealthPollOptions,
): Promise<{ health: "healthy" | "unhealthy"; detail?: string; attempts: number }> {
  const clock = opts.clock ?? systemClock;
  const ms = () => clock.now().getTime();
  const deadline = ms() + opts.timeoutMs;
  let attempts = 0;
  let detail: string | undefined;
  while (true) {
    opts.signal.throwIfAborted();
    attempts++;
    const left = deadline - ms();
    const h = await guest.health(ip, {
      url: opts.url,
      timeoutMs: Math.max(100, Math.min(2000, left)),
      signal: opts.signal,
    });
    if (h.ok) return { health: "healthy", attempts };
    detail = h.detail ?? (h.status ? `HTTP ${h.status}` : undefined);
    if (ms() + opts.intervalMs > deadline) return { health: "unhealthy", detail, attempts };
    await sleep(clock, opts.intervalMs, opts.signal);
  }
}
