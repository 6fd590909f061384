/**
 * What the API needs from the outside world, injected by the daemon (or a
 * test): the services, the auth settings, a logger and a serial log reader.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { Services } from "../service/contracts.ts";
import type { AuthOptions } from "./middleware/auth.ts";
import type { BodyLimitOptions } from "./middleware/body_limit.ts";
import type { LogSink } from "../log/mod.ts";

/** Reads a VM's serial log (tail, then optionally follow). */
export interface SerialLogReader {
  /**
   * The last `lines` lines of the file (whole file when 0), and the file
   * offset they end at (where `follow` continues). A missing file is empty.
   */
  tail(path: string, lines: number): Promise<{ data: Uint8Array; end: number }>;
  /** Bytes appended after `offset` until `signal` aborts. */
  follow(path: string, offset: number, signal: AbortSignal): ReadableStream<Uint8Array>;
}

/** The reader when none is configured: every read is `unavailable` (503). */
export const NO_LOG_READER: SerialLogReader = {
  tail: () => Promise.reject(unavailable()),
  follow: () => {
    throw unavailable();
  },
};

function unavailable(): VolantError {
  return new VolantError("unavailable", "this API has no serial log reader configured");
}

/** Dependencies of {@linkcode createApp}. */
export interface ApiDeps {
  services:
    & Pick<Services, "plugins" | "vms" | "events" | "system" | "keys" | "actions">
    & Partial<Pick<Services, "deployments">>;
  /** Bearer token for TCP; the unix socket is always trusted. */
  auth: AuthOptions;
  logger?: LogSink;
  /**
   * Reads VM serial logs (the daemon passes `fileLogReader()` from log_reader.ts).
   * Absent: the log routes answer 503.
   */
  logs?: SerialLogReader;
  /** Guest agent port (kestrel), default 8080. */
  agentPort?: number;
  /** Timeout of one proxied agent request, default 120 s. */
  agentTimeoutMs?: number;
  /** SSE heartbeat interval, default 15 s. */
  heartbeatMs?: number;
  /** Request body caps (default 1 MiB for the API, 64 MiB through the agent proxy). */
  bodyLimits?: BodyLimitOptions;
  /** Aborted when the daemon shuts down: ends event and log streams so the server can close. */
  shutdown?: AbortSignal;
}
