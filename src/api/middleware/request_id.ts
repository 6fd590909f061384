/**
 * Request id middleware: keeps a well-formed incoming `X-Request-Id`,
 * otherwise makes one, and echoes it on the response.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { ApiEnv } from "../types.ts";

export interface RequestIdOptions {
  /** Header name; default `X-Request-Id`. */
  header?: string;
  /** Id generator; default `crypto.randomUUID`. */
  generate?: () => string;
}

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Creates the request id middleware. */
export function requestId(options: RequestIdOptions = {}): MiddlewareHandler<ApiEnv> {
  const header = options.header ?? "X-Request-Id";
  const generate = options.generate ?? (() => crypto.randomUUID());
  return async function requestIdMiddleware(c, next) {
    const incoming = c.req.header(header);
    const id = incoming !== undefined && SAFE_ID.test(incoming) ? incoming : generate();
    c.set("requestId", id);
    c.header(header, id);
    await next();
  };
}
