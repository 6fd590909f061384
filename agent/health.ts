/**
 * The workload's HTTP health check: after each spawn, GET the health URL until
 * a 2xx or the deadline (`health_check.timeout_ms`, default 60 s). Passing gates
 * readiness; missing the deadline marks the workload "unhealthy" (reported in
 * /healthz and /v1/status, one console line) and probing continues slowly, so
 * a late workload still becomes ready. Never kills anything, never hangs.
 *
 * @module
 */
import type { ConsoleSink } from "./console.ts";
import { sleep } from "./timeout.ts";

export type HealthState = "down" | "starting" | "healthy" | "unhealthy";

export interface HealthOptions {
  /** The URL to probe; null = no health check (healthy as soon as the workload runs). */
  url: string | null;
  timeoutMs?: number;
  /** First poll interval; doubles up to 500 ms while starting. */
  intervalMs?: number;
  probeTimeoutMs?: number;
  /** Interval of the liveness probe once healthy (and of retries once unhealthy). */
  watchIntervalMs?: number;
  /** Consecutive failed probes that turn a healthy workload unhealthy. */
  failureThreshold?: number;
  console: ConsoleSink;
  /** Called each time the workload becomes healthy; `first` only once per kestrel. */
  onHealthy?: (first: boolean) => void;
}

/** Joins a path onto a base URL's path (`http://h/app` + `/x` = `http://h/app/x`), keeping `?query`. */
export function joinUrl(base: string, pathAndQuery: string): string {
  const url = new URL(base);
  const q = pathAndQuery.indexOf("?");
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q < 0 ? "" : pathAndQuery.slice(q);
  const basePath = url.pathname.replace(/\/+$/, "");
  url.pathname = basePath + (path.startsWith("/") ? path : `/${path}`);
  url.search = query;
  return url.toString();
}

export class HealthMonitor {
  state: HealthState = "down";
  lastError: string | null = null;
  lastCheckAt: string | null = null;
  /** Milliseconds from the start of the current run's check to its first 2xx. */
  lastReadyAfterMs: number | null = null;

  readonly #opts: Required<Omit<HealthOptions, "onHealthy" | "url">> & HealthOptions;
  #run: AbortController | null = null;
  #everHealthy = false;

  constructor(opts: HealthOptions) {
    this.#opts = {
      timeoutMs: 60_000,
      intervalMs: 20,
      probeTimeoutMs: 2_000,
      watchIntervalMs: 5_000,
      failureThreshold: 3,
      ...opts,
    };
  }

  get url(): string | null {
    return this.#opts.url;
  }

  /** Starts checking a fresh run of the workload (cancels any previous check). */
  begin(): void {
    this.#run?.abort();
    const run = new AbortController();
    this.#run = run;
    this.state = "starting";
    this.lastError = null;
    this.#loop(run.signal).catch((e) => {
      this.#opts.console.line(`health check crashed: ${(e as Error).message}`);
      this.state = "unhealthy";
    });
  }

  /** The workload is gone: stop checking, state "down". */
  workloadExited(): void {
    this.#run?.abort();
    this.#run = null;
    this.state = "down";
  }

  stop(): void {
    this.#run?.abort();
    this.#run = null;
  }

  /** One probe: true on 2xx. Records the error otherwise. */
  async probe(signal?: AbortSignal): Promise<boolean> {
    const url = this.#opts.url;
    if (url === null) return true;
    const timeout = AbortSignal.timeout(this.#opts.probeTimeoutMs);
    try {
      const res = await fetch(url, {
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        redirect: "manual",
      });
      await res.body?.cancel();
      this.lastCheckAt = new Date().toISOString();
      if (res.status >= 200 && res.status < 300) return true;
      this.lastError = `GET ${url}: HTTP ${res.status}`;
      return false;
    } catch (e) {
      this.lastCheckAt = new Date().toISOString();
      this.lastError = `GET ${url}: ${(e as Error).message}`;
      return false;
    }
  }

  #healthy(): void {
    this.state = "healthy";
    this.lastError = null;
    const first = !this.#everHealthy;
    this.#everHealthy = true;
    this.#opts.onHealthy?.(first);
  }

  async #loop(signal: AbortSignal): Promise<void> {
    const o = this.#opts;
    const started = performance.now();
    const deadline = started + o.timeoutMs;
    let interval = o.intervalMs;
    let ok = false;
    while (!signal.aborted && performance.now() < deadline) {
      if (await this.probe(signal)) {
        ok = true;
        break;
      }
      await sleep(Math.min(interval, Math.max(0, deadline - performance.now())), signal);
      interval = Math.min(interval * 2, 500);
    }
    if (signal.aborted) return;
    if (ok) {
      this.lastReadyAfterMs = Math.round(performance.now() - started);
      this.#healthy();
    } else {
      this.state = "unhealthy";
      o.console.line(
        `health check failed: no 2xx from ${o.url} within ${o.timeoutMs} ms (${this.lastError}); ` +
          `still probing every ${o.watchIntervalMs} ms`,
      );
    }
    // Keep watching: a healthy workload can fail later, an unhealthy one can recover.
    let failures = 0;
    while (!signal.aborted && o.url !== null) {
      await sleep(o.watchIntervalMs, signal);
      if (signal.aborted) return;
      if (await this.probe(signal)) {
        failures = 0;
        if (this.state !== "healthy") this.#healthy();
      } else if (this.state === "healthy" && ++failures >= o.failureThreshold) {
        this.state = "unhealthy";
        o.console.line(`workload unhealthy: ${this.lastError}`);
      }
    }
  }
}
