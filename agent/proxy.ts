/**
 * The `/v1/*` passthrough to the workload: strip `/v1`, join the rest onto the
 * workload's base_url, drop hop-by-hop headers both ways, bound the exchange
 * with a timeout (a manifest action's `timeout_ms` when method and path match
 * one, else the default). Upstream failures become problem+json 502/504.
 *
 * @module
 */
import type { PluginManifest } from "../src/manifest/plugin.ts";
import { joinUrl } from "./health.ts";
import { problem } from "./problem.ts";

export const DEFAULT_PROXY_TIMEOUT_MS = 30_000;

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** A copy of `headers` without hop-by-hop headers (and those named in Connection). */
export function stripHopByHop(headers: Headers): Headers {
  const out = new Headers(headers);
  const named = (headers.get("connection") ?? "").split(",").map((s) => s.trim().toLowerCase());
  for (const name of [...HOP_BY_HOP, ...named]) if (name) out.delete(name);
  return out;
}

/** The timeout for `method path`: the matching action's, else `fallback`. */
export function timeoutFor(
  manifest: PluginManifest,
  method: string,
  path: string,
  fallback: number,
): number {
  for (const action of Object.values(manifest.actions ?? {})) {
    if (action.method.toUpperCase() === method && action.path === path && action.timeout_ms) {
      return action.timeout_ms;
    }
  }
  return fallback;
}

/** Forwards `req` (whose path starts with /v1) to the workload. */
export async function proxyToWorkload(
  req: Request,
  manifest: PluginManifest,
  defaultTimeoutMs = DEFAULT_PROXY_TIMEOUT_MS,
): Promise<Response> {
  const incoming = new URL(req.url);
  const path = incoming.pathname.replace(/^\/v1/, "") || "/";
  const target = joinUrl(manifest.workload.base_url, path + incoming.search);
  const timeoutMs = timeoutFor(manifest, req.method, path, defaultTimeoutMs);
  const headers = stripHopByHop(req.headers);
  headers.delete("host");
  const hasBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== null;
  let upstream: Response;
  try {
    upstream = await fetch(target, {
      method: req.method,
      headers,
      body: hasBody ? req.body : undefined,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const err = e as Error;
    if (err.name === "TimeoutError") {
      return problem(
        504,
        "upstream timeout",
        `${req.method} ${target}: no answer in ${timeoutMs} ms`,
      );
    }
    return problem(502, "upstream unreachable", `${req.method} ${target}: ${err.message}`);
  }
  return new Response(upstream.body, {
    status: upstream.status,
    statusText: upstream.statusText,
    headers: stripHopByHop(upstream.headers),
  });
}
