/**
 * Guest health: poll kestrel's /healthz until it answers 200 or the overall
 * timeout passes.
 *
 * @module
 */
import type { GuestAgent } from "./ports.ts";

export interface HealthPollOptions {
  /** Probe this URL instead of kestrel's /healthz (Volant-contract guests). */
  url?: string;
  timeoutMs: number;
  intervalMs: number;
  signal: AbortSignal;
}

/** Resolves `healthy` or `unhealthy` (with the last reason); rejects only when aborted. */
export async function pollHealth(
  guest: GuestAgent,
  ip: string,
  opts: HealthPollOptions,
): Promise<{ health: "healthy" | "unhealthy"; detail?: string; attempts: number }> {
  const deadline = Date.now() + opts.timeoutMs;
  let attempts = 0;
  let detail: string | undefined;
  while (true) {
    opts.signal.throwIfAborted();
    attempts++;
    const left = deadline - Date.now();
    const h = await guest.health(ip, {
      url: opts.url,
      timeoutMs: Math.max(100, Math.min(2000, left)),
      signal: opts.signal,
    });
    if (h.ok) return { health: "healthy", attempts };
    detail = h.detail ?? (h.status ? `HTTP ${h.status}` : undefined);
    if (Date.now() + opts.intervalMs > deadline) return { health: "unhealthy", detail, attempts };
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        opts.signal.removeEventListener("abort", onAbort);
        resolve();
      }, opts.intervalMs);
      const onAbort = () => {
        clearTimeout(timer);
        reject(opts.signal.reason);
      };
      opts.signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}
