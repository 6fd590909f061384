/**
 * Shared types of the HTTP layer: the Hono environment (bindings set by the
 * server that accepted the connection, and per-request variables). The API
 * logs through src/log's `LogSink`.
 *
 * @module
 */

/** Which listener accepted the request. The unix socket is trusted by its file mode. */
export type Transport = "unix" | "tcp";

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
