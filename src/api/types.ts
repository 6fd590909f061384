/**
 * Shared types of the HTTP layer: the Hono environment (bindings set by the
 * server that accepted the connection, and per-request variables) and the
 * small logger interface the API writes to.
 *
 * @module
 */

/** Which listener accepted the request. The unix socket is trusted by its file mode. */
export type Transport = "unix" | "tcp";

/** Structured logger used by the API (the daemon injects a concrete one). */
export interface ApiLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Hono environment of every Volant route. */
export type ApiEnv = {
  Bindings: {
    /** Set by the daemon's listener; absent (e.g. `app.request()` without env) counts as TCP. */
    transport?: Transport;
  };
  Variables: {
    requestId: string;
  };
};

/** A logger that drops everything (tests, benches). */
export const SILENT_LOGGER: ApiLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
