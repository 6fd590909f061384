/**
 * Access log middleware: one structured line per request once the response
 * head is known (streams are logged when they start, not when they end).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { ApiEnv } from "../types.ts";
import type { LogSink } from "../../log/mod.ts";

export interface AccessLogOptions {
  logger: LogSink;
  /** Paths logged at debug level instead of info (noisy probes); default `/healthz`. */
  quietPaths?: string[];
}

/** Creates the access log middleware. */
export function accessLog(options: AccessLogOptions): MiddlewareHandler<ApiEnv> {
  const quiet = new Set(options.quietPaths ?? ["/healthz"]);
  return async function accessLogMiddleware(c, next) {
    const started = performance.now();
    await next();
    const fields = {
      request_id: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 100) / 100,
      transport: c.env?.transport ?? "tcp",
    };
    if (quiet.has(c.req.path)) options.logger.debug("http request", fields);
    else options.logger.info("http request", fields);
  };
}
