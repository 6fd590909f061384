/**
 * The one error renderer (`app.onError`): every thrown error becomes RFC 9457
 * problem+json. Internal errors are logged with the request id and answered
 * without internals.
 *
 * @module
 */
import type { ErrorHandler } from "hono";
import { problemResponse, toVolantError } from "../problem.ts";
import type { ApiEnv } from "../types.ts";
import type { LogSink } from "../../log/mod.ts";

export interface ErrorHandlerOptions {
  logger: LogSink;
}

/** Creates the app's error handler. */
export function errorHandler(options: ErrorHandlerOptions): ErrorHandler<ApiEnv> {
  return function onError(err, c) {
    const { error, status } = toVolantError(err);
    const requestId = c.get("requestId");
    if (status >= 500 && error.code === "internal") {
      const cause = error.cause ?? err;
      options.logger.error("unhandled error", {
        request_id: requestId,
        path: c.req.path,
        error: cause instanceof Error ? (cause.stack ?? cause.message) : String(cause),
      });
      error.message = requestId ? `internal error (request id ${requestId})` : "internal error";
    }
    const headers: Record<string, string> = {};
    if (error.code === "unauthorized") headers["WWW-Authenticate"] = 'Bearer realm="volantd"';
    if (requestId) headers["X-Request-Id"] = requestId;
    return problemResponse(error, status, c.req.path, headers);
  };
}
