/**
 * kestrel's HTTP API (port 8080 in the guest), as a plain fetch handler so it
 * is served by `Deno.serve` in the guest and tested on 127.0.0.1 on the host:
 *
 * - `GET /healthz`: `{status, uptime_ms, version}`, 200 only when the workload is healthy;
 * - `GET /v1/status`: manifest, workload, health, boot timings, network;
 * - `GET /v1/logs?tail=N`: the workload's recent output as text;
 * - `POST /agent/v1/exec`: run a process, stream its output (exec.ts);
 * - `GET /agent/v1/exec/pty`: a process on a terminal, over a WebSocket (pty.ts);
 * - `GET|PUT /agent/v1/files?path=`: a file or tree as a tar stream (files.ts);
 * - `/v1/*`: everything else is proxied to the workload's base_url (see proxy.ts).
 *
 * Every request passes the agent gate first (auth.ts): without the VM's agent
 * key it gets 401. The key header is never forwarded to the workload.
 *
 * @module
 */
import type { AgentState } from "./state.ts";
import { problem } from "./problem.ts";
import { DEFAULT_PROXY_TIMEOUT_MS, proxyToWorkload } from "./proxy.ts";
import type { AgentGate } from "./auth.ts";
import type { ExecOptions } from "./exec.ts";
import { AGENT_KEY_HEADER } from "../src/manifest/cmdline.ts";

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
  /** Refuses requests without the agent key (default: all pass). */
  gate?: AgentGate;
  /** Enables `POST /agent/v1/exec` (kestrel always passes it). */
  exec?: ExecOptions;
}

/** Who sent the request, for the refusal log. */
function peerOf(info?: Deno.ServeHandlerInfo): string {
  const a = info?.remoteAddr as Deno.NetAddr | undefined;
  return a && "hostname" in a ? `${a.hostname}:${a.port}` : "a local socket";
}

/** The API as a fetch handler over `state`. */
export function createApiHandler(
  state: AgentState,
  opts: ApiOptions = {},
): (req: Request, info?: Deno.ServeHandlerInfo) => Promise<Response> {
  return async (req, info) => {
    const refused = opts.gate?.(req, peerOf(info));
    if (refused) return refused;
    const url = new URL(req.url);
    const path = url.pathname;
    const read = req.method === "GET" || req.method === "HEAD";
    if (path === "/agent/v1/exec" && opts.exec) {
      if (req.method !== "POST") return problem(405, "method not allowed", `${req.method} ${path}`);
      // Loaded on first use: exec validates with zod, which kestrel keeps out of its boot.
      const { handleExec } = await import("./exec.ts");
      return await handleExec(req, opts.exec);
    }
    if (path === "/agent/v1/exec/pty" && opts.exec) {
      const { handlePty } = await import("./pty.ts");
      return handlePty(req, opts.exec);
    }
    if (path === "/agent/v1/files" && opts.exec) {
      const { handleFiles } = await import("./files.ts");
      return await handleFiles(req);
    }
    if (path === "/healthz" && read) return healthz(state);
    if (path === "/v1/status" && read) return status(state);
    if (path === "/v1/logs" && read) return logs(state, url);
    if (path === "/v1" || path.startsWith("/v1/")) {
      if (!state.manifest) return problem(503, "no workload", "kestrel has no manifest");
      // The workload never sees the VM's agent key.
      const headers = new Headers(req.headers);
      headers.delete(AGENT_KEY_HEADER);
      return await proxyToWorkload(
        new Request(req, { headers }),
        state.manifest,
        opts.proxyTimeoutMs ?? DEFAULT_PROXY_TIMEOUT_MS,
      );
    }
    if (path === "/healthz") return problem(405, "method not allowed", `${req.method} ${path}`);
    return problem(404, "not found", `${req.method} ${path} is not a kestrel endpoint`);
  };
}
