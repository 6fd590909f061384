/**
 * Restart policy decisions, pure: whether an exit calls for a restart, and
 * the backoff with a cap (at most `maxRestarts` within `windowMs`).
 *
 * @module
 */
import type { RestartPolicy } from "../manifest/plugin.ts";
import type { RestartLimits } from "./options.ts";

/** `clean` = the VMM exited with code 0 (the guest powered off). */
export function wantsRestart(policy: RestartPolicy, clean: boolean): boolean {
  return policy === "always" || (policy === "on-failure" && !clean);
}

export type RestartDecision =
  | { allowed: true; attempt: number; delayMs: number }
  | { allowed: false; attempt: number; reason: string };

/** Remembers recent automatic restarts of one VM. */
export class RestartBudget {
  readonly #limits: RestartLimits;
  #times: number[] = [];

  constructor(limits: RestartLimits) {
    this.#limits = limits;
  }

  /** Decides the next restart at time `now` (ms) and, if allowed, records it. */
  next(now: number): RestartDecision {
    const { maxRestarts, windowMs, baseDelayMs, maxDelayMs } = this.#limits;
    this.#times = this.#times.filter((t) => now - t < windowMs);
    const attempt = this.#times.length + 1;
    if (this.#times.length >= maxRestarts) {
      return {
        allowed: false,
        attempt,
        reason: `restart limit reached: ${maxRestarts} restarts within ${
          Math.round(windowMs / 1000)
        } s`,
      };
    }
    this.#times.push(now);
    const delayMs = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    return { allowed: true, attempt, delayMs };
  }

  reset(): void {
    this.#times = [];
  }
}
