/**
 * Authentication middleware. Requests that came in over the unix socket are
 * trusted (the socket's file mode is the access control). Everything else
 * (TCP, or an unknown transport) needs `Authorization: Bearer <token>`,
 * compared in constant time; with no token configured TCP is refused.
 * The token is never accepted from the query string (it would end up in logs).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { VolantError } from "../../errors.ts";
import type { ApiEnv } from "../types.ts";

export interface AuthOptions {
  /** The bearer token TCP clients must present; undefined = TCP refused. */
  token?: string;
  /** Paths reachable without a token on TCP; default none (even /healthz needs it). */
  publicPaths?: string[];
}

const encoder = new TextEncoder();

/** Constant-time equality of two strings (length leaks, content does not). */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Extracts the bearer token of an Authorization header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
  return m?.[1];
}

/** Throws `unauthorized` unless the request may proceed. Shared by HTTP and WebSocket routes. */
export function checkAuth(
  options: AuthOptions,
  transport: string | undefined,
  authorization: string | undefined,
): void {
  if (transport === "unix") return;
  if (options.token === undefined) {
    throw new VolantError("unauthorized", "TCP access is not configured on this daemon");
  }
  const presented = bearerToken(authorization);
  if (presented === undefined) {
    throw new VolantError("unauthorized", "missing bearer token (Authorization: Bearer <token>)");
  }
  if (!timingSafeEqual(presented, options.token)) {
    throw new VolantError("unauthorized", "invalid bearer token");
  }
}

/** Creates the auth middleware. */
export function auth(options: AuthOptions): MiddlewareHandler<ApiEnv> {
  const publicPaths = new Set(options.publicPaths ?? []);
  return async function authMiddleware(c, next) {
    if (!publicPaths.has(c.req.path)) {
      checkAuth(options, c.env?.transport, c.req.header("authorization"));
    }
    await next();
  };
}
