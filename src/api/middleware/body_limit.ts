/**
 * Request body caps: API bodies are small JSON documents (1 MiB is far more
 * than any manifest); the agent proxy buffers uploads, so it gets its own,
 * larger cap. Over the cap: 413 problem+json.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ApiEnv } from "../types.ts";

export interface BodyLimitOptions {
  /** Cap for API bodies, default 1 MiB. */
  apiBytes?: number;
  /** Cap for bodies proxied to a guest agent, default 64 MiB. */
  agentBytes?: number;
}

function limit(maxSize: number): MiddlewareHandler<ApiEnv> {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new HTTPException(413, { message: `request body larger than ${maxSize} bytes` });
    },
  });
}

/** Creates the body cap middleware. */
export function bodyLimits(options: BodyLimitOptions = {}): MiddlewareHandler<ApiEnv> {
  const api = limit(options.apiBytes ?? 1 << 20);
  const agent = limit(options.agentBytes ?? 64 << 20);
  return async function bodyLimitMiddleware(c, next) {
    // A file copy is a tar stream passed through, never buffered: the guest's disk bounds it.
    if (/^\/api\/v1\/vms\/[^/]+\/files$/.test(c.req.path)) return await next();
    const proxied = /^\/api\/v1\/vms\/[^/]+\/(agent(\/|$)|exec$)/.test(c.req.path); // exec: stdin
    await (proxied ? agent : api)(c, next);
  };
}
