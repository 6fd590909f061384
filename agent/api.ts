/**
 * kestrel's HTTP API (port 8080 in the guest), as a plain fetch handler so it
 * is served by `Deno.serve` in the guest and tested on 127.0.0.1 on the host:
 *
 * - `GET /healthz`: `{status, uptime_ms, version}`, 200 only when the workload is healthy;
 * - `GET /v1/status`: manifest, workload, health, boot timings, network;
 * - `GET /v1/logs?tail=N`: the workload's recent output as text;
 * - `/v1/*`: everything else is proxied to the workload's base_url (see proxy.ts).
 *
 * @module
 */
import type { AgentState } from "./state.ts";
import { problem } from "./problem.ts";
import { DEFAULT_PROXY_TIMEOUT_MS, proxyToWorkload } from "./proxy.ts";

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function healthz(state: AgentState): Response {
  const health = state.health?.state ?? "down";
  const status = state.shuttingDown ? "stopping" : health === "healthy" ? "ok" : health;
  const body = {
    status,
    uptime_ms: Math.round(performance.now() - state.t0),
    version: state.version,
  };
  return json(body, status === "ok" ? 200 : 503);
}

function status(state: AgentState): Response {
  const m = state.manifest;
  const s = state.supervisor;
  const h = state.health;
  return json({
    version: state.version,
    uptime_ms: Math.round(performance.now() - state.t0),
    shutting_down: state.shuttingDown,
    manifest: m ? { name: m.name, version: m.version, runtime: m.runtime } : null,
    workload: s
      ? {
        state: s.state,
        pid: s.pid,
        restarts: s.restarts,
        last_exit: s.lastExit,
        last_error: s.lastError,
        restart_policy: m?.workload.restart ?? "on-failure",
        base_url: m?.workload.base_url,
      }
      : null,
    health: h
      ? {
        state: h.state,
        url: h.url,
        last_error: h.lastError,
        last_check_at: h.lastCheckAt,
        ready_after_ms: h.lastReadyAfterMs,
      }
      : { state: "down" },
    boot: {
      mode: state.bootMode,
      timings_ms: state.timings,
      workload_first: state.workloadFirst ?? null,
    },
    network: state.network,
  });
}

function logs(state: AgentState, url: URL): Response {
  const raw = url.searchParams.get("tail");
  let tail: number | undefined;
  if (raw !== null) {
    if (!/^\d{1,7}$/.test(raw)) {
      return problem(400, "bad query", "tail must be a non-negative integer of lines", "tail");
    }
    tail = Number(raw);
  }
  const text = state.supervisor?.logs.text(tail) ?? "";
  return new Response(text, { headers: { "content-type": "text/plain; charset=utf-8" } });
}

/** Options of {@linkcode createApiHandler}. */
export interface ApiOptions {
  proxyTimeoutMs?: number;
}

/** The API as a fetch handler over `state`. */
export function createApiHandler(
  state: AgentState,
  opts: ApiOptions = {},
): (req: Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    const path = url.pathname;
    const read = req.method === "GET" || req.method === "HEAD";
    if (path === "/healthz" && read) return healthz(state);
    if (path === "/v1/status" && read) return status(state);
    if (path === "/v1/logs" && read) return logs(state, url);
    if (path === "/v1" || path.startsWith("/v1/")) {
      if (!state.manifest) return problem(503, "no workload", "kestrel has no manifest");
      return await proxyToWorkload(
        req,
        state.manifest,
        opts.proxyTimeoutMs ?? DEFAULT_PROXY_TIMEOUT_MS,
      );
    }
    if (path === "/healthz") return problem(405, "method not allowed", `${req.method} ${path}`);
    return problem(404, "not found", `${req.method} ${path} is not a kestrel endpoint`);
  };
}
