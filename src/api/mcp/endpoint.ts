/**
 * `/mcp`: MCP over streamable HTTP (the SDK's web-standard transport) on
 * the daemon's own listeners, behind the same auth middleware as REST. A
 * POST carrying `initialize` opens a session (its id comes back in
 * `Mcp-Session-Id`); later POSTs, the GET notification stream and the DELETE
 * that ends a session carry that id.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { newRouter } from "../router.ts";
import { problems } from "../schemas.ts";
import { createMcpSession, type McpDeps, type McpSession } from "./server.ts";

/** Sessions kept at once; the least recently used goes first beyond it. */
export const MAX_SESSIONS = 64;

const SESSION_HEADER = z.object({
  "mcp-session-id": z.string().optional().describe("the session, after initialize"),
});
const doc = (method: "get" | "post" | "delete", summary: string) =>
  createRoute({
    method,
    path: "/",
    tags: ["mcp"],
    summary,
    description: "Model Context Protocol, streamable HTTP transport (see docs/mcp.md). " +
      "JSON-RPC 2.0 messages; the same auth as the REST API.",
    request: { headers: SESSION_HEADER },
    responses: {
      200: {
        description: "JSON-RPC response(s), as JSON or a text/event-stream",
        content: {
          "application/json": { schema: z.record(z.string(), z.unknown()) },
          "text/event-stream": { schema: z.string() },
        },
      },
      ...problems(400, 401, 404),
    },
  });

function rpcError(status: number, code: number, message: string): Response {
  return Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status });
}

interface Entry {
  session: McpSession;
  transport: WebStandardStreamableHTTPServerTransport;
  used: number;
}

/** Options of {@linkcode mcpRoutes}. */
export interface McpRouteOptions extends McpDeps {
  /** Ends every session when the daemon shuts down. */
  shutdown: AbortSignal;
}

/** The /mcp router (mount at `/mcp`). */
export function mcpRoutes(opts: McpRouteOptions) {
  const app = newRouter();
  app.openAPIRegistry.registerPath(doc("post", "MCP: send JSON-RPC messages (initialize first)"));
  app.openAPIRegistry.registerPath(doc("get", "MCP: the session's notification stream (SSE)"));
  app.openAPIRegistry.registerPath(doc("delete", "MCP: end the session"));
  const sessions = new Map<string, Entry>();

  const drop = async (id: string) => {
    const e = sessions.get(id);
    if (!e) return;
    sessions.delete(id);
    await e.session.close().catch((error) =>
      opts.logger.debug("mcp session close failed", { error: String(error) })
    );
  };
  opts.shutdown.addEventListener("abort", () => {
    for (const id of [...sessions.keys()]) void drop(id);
  }, { once: true });

  app.all("/", async (c) => {
    const id = c.req.header("mcp-session-id");
    if (id !== undefined) {
      const entry = sessions.get(id);
      if (!entry) return rpcError(404, -32001, "session not found (initialize again)");
      entry.used = Date.now();
      return await entry.transport.handleRequest(c.req.raw);
    }
    if (c.req.method !== "POST") {
      return rpcError(400, -32000, "no Mcp-Session-Id: POST an initialize request first");
    }
    let body: unknown;
    try {
      body = await c.req.json();
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      return rpcError(400, -32700, "parse error: the body is not JSON");
    }
    const init = Array.isArray(body) ? body.some(isInitializeRequest) : isInitializeRequest(body);
    if (!init) return rpcError(400, -32000, "no Mcp-Session-Id: send initialize first");
    if (sessions.size >= MAX_SESSIONS) {
      const oldest = [...sessions.entries()].sort((a, b) => a[1].used - b[1].used)[0];
      await drop(oldest[0]);
    }
    const session = createMcpSession(opts, c.env?.transport ?? "tcp");
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      onsessioninitialized: (sid: string) => {
        sessions.set(sid, { session, transport, used: Date.now() });
      },
      onsessionclosed: (sid: string) => drop(sid),
    });
    await session.server.connect(transport);
    return await transport.handleRequest(c.req.raw, { parsedBody: body });
  });
  return app;
}
