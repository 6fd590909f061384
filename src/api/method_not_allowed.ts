/**
 * The not-found handler that also knows 405: when the path exists under
 * another method, answer 405 with an `Allow` header instead of 404.
 *
 * @module
 */
import type { NotFoundHandler } from "hono";
import { VolantError } from "../errors.ts";
import { problemResponse } from "./problem.ts";
import type { ApiEnv } from "./types.ts";

interface Endpoint {
  method: string;
  pattern: RegExp;
}

/** Regex for a Hono path pattern using `:param` and `*`. */
export function pathPattern(path: string): RegExp {
  const body = path.split("/").map((seg) => {
    if (seg === "*") return ".*";
    if (seg.startsWith(":")) return "[^/]+";
    return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }).join("/");
  return new RegExp(`^${body}$`);
}

/** Builds the handler from the app's routes (call after every route is registered). */
export function notFoundHandler(
  routes: readonly { method: string; path: string }[],
): NotFoundHandler<ApiEnv> {
  const endpoints: Endpoint[] = routes
    .filter((r) => r.method !== "ALL")
    .map((r) => ({ method: r.method, pattern: pathPattern(r.path) }));
  return function notFound(c) {
    const path = c.req.path;
    const allowed = new Set(endpoints.filter((e) => e.pattern.test(path)).map((e) => e.method));
    const headers: Record<string, string> = {};
    const id = c.get("requestId");
    if (id) headers["X-Request-Id"] = id;
    if (allowed.size > 0) {
      if (allowed.has("GET")) allowed.add("HEAD");
      const allow = [...allowed].sort().join(", ");
      const error = new VolantError(
        "invalid_input",
        `method ${c.req.method} is not allowed on ${path} (allowed: ${allow})`,
      );
      return problemResponse(error, 405, path, { ...headers, Allow: allow }, "Method not allowed");
    }
    const error = new VolantError("not_found", `no route for ${c.req.method} ${path}`);
    return problemResponse(error, 404, path, headers);
  };
}
