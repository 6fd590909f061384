/**
 * ANY /api/v1/vms/{name}/agent/*: reverse proxy to the guest agent
 * (kestrel) at http://<vm ip>:8080/*, through the guest service (the
 * GuestAgent port adds the VM's agent key). Hop-by-hop headers are stripped
 * both ways, and so is the daemon's own Authorization header: the guest never
 * sees the API token.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { VolantError } from "../../errors.ts";
import type { GuestServiceApi } from "../../service/contracts.ts";
import { newRouter } from "../router.ts";
import { NameParam, problems } from "../schemas.ts";

/** Headers that describe one hop, never forwarded (RFC 9110 §7.6.1), plus ours. */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "trailers",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
];

/** Copies `headers` without hop-by-hop ones (and those named in Connection). */
export function stripHopByHop(headers: Headers, extra: string[] = []): Headers {
  const out = new Headers(headers);
  const named = (headers.get("connection") ?? "").split(",").map((s) => s.trim().toLowerCase());
  for (const h of [...HOP_BY_HOP, ...named, ...extra]) if (h) out.delete(h);
  return out;
}

const methods = ["get", "post", "put", "patch", "delete"] as const;
function docRoute(method: typeof methods[number]) {
  return createRoute({
    method,
    path: "/{name}/agent/{path}",
    tags: ["vms"],
    summary: "Reverse proxy to the guest agent (http://<vm ip>:8080/{path})",
    description: "Any method; the agent's status, headers and body are passed back.",
    request: { params: NameParam.extend({ path: z.string() }) },
    responses: {
      200: { description: "The agent's response" },
      ...problems(400, 404, 409, 502),
    },
  });
}

export interface AgentProxyOptions {
  timeoutMs: number;
  /**
   * Before forwarding: activity for scale to zero, and the wake of a parked
   * VM (snapshots.enterAgent); returns what to call when the request is over.
   */
  enter?: (name: string) => Promise<() => void>;
}

/** The agent proxy router. The documented routes are hidden twins of one ALL handler. */
export function agentProxyRoutes(guest: GuestServiceApi, options: AgentProxyOptions) {
  const app = newRouter();
  for (const m of methods) app.openAPIRegistry.registerPath(docRoute(m));
  app.all("/:name/agent/*", async (c) => {
    const name = NameParam.safeParse({ name: c.req.param("name") });
    if (!name.success) {
      throw new VolantError("invalid_input", "invalid path: name is not a DNS label", {
        problems: [{ field: "path.name", message: "must be a DNS label" }],
      });
    }
    if (c.req.header("upgrade") !== undefined) {
      throw new VolantError("invalid_input", "WebSocket upgrades are not proxied to the agent");
    }
    const vm = name.data.name;
    const leave = await options.enter?.(vm);
    try {
      return await forward(c.req.raw, vm);
    } finally {
      leave?.();
    }
  });

  async function forward(req: Request, vm: string): Promise<Response> {
    const url = new URL(req.url);
    const prefix = `/api/v1/vms/${vm}/agent`;
    const rest = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : "/";
    const headers = stripHopByHop(req.headers, ["authorization", "accept-encoding"]);
    // Ask the agent for the bytes as they are: Deno's fetch would otherwise
    // decode gzip yet keep the Content-Encoding header, and the client would
    // try to decode plain bytes (curl --compressed: error 61). Sent as-is, an
    // encoded answer reaches the client with its header still true.
    headers.set("accept-encoding", "identity");
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const signal = AbortSignal.any([req.signal, AbortSignal.timeout(options.timeoutMs)]);
    const upstream = await guest.forward(vm, {
      method: req.method,
      path: `${rest || "/"}${url.search}`,
      headers,
      body: hasBody ? new Uint8Array(await req.arrayBuffer()) : null,
      signal,
    });
    return new Response(upstream.body, {
      status: upstream.status,
      statusText: upstream.statusText,
      headers: stripHopByHop(upstream.headers),
    });
  }
  return app;
}
