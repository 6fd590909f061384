/**
 * GET /api/v1/vms/{name}/exec/pty: an interactive process on a terminal in
 * the VM, as a WebSocket bridged message for message to the agent's
 * `/agent/v1/exec/pty` (contract: src/manifest/pty.ts). The query is
 * checked and the agent session opened before the upgrade, so a bad field,
 * a stopped VM or a program not on PATH is an ordinary problem answer.
 * Same auth as the API; a browser Origin must be the daemon's own host.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { VolantError } from "../../errors.ts";
import { parsePtyQuery } from "../../manifest/pty.ts";
import type { GuestServiceApi } from "../../service/contracts.ts";
import type { AgentSocket } from "../../service/ports.ts";
import type { LogSink } from "../../log/mod.ts";
import { newRouter } from "../router.ts";
import { NameParam, problems } from "../schemas.ts";
import { originAllowed } from "./console.ts";

const doc = createRoute({
  method: "get",
  path: "/{name}/exec/pty",
  tags: ["vms"],
  summary: "WebSocket to a process on a terminal in the VM (volar vms exec -it, vms shell)",
  description: "Upgrade to WebSocket. Binary messages are terminal bytes both ways. Text " +
    'messages are JSON: send `{"type":"resize","rows":R,"cols":C}` or ' +
    '`{"type":"signal","signal":"SIGINT"}`; the last message is ' +
    '`{"type":"exit","exit_code":N,"signal":null|"SIGx"}`, then the socket closes (1000). ' +
    "Closing the socket kills every process of the session in the guest. 400 names a bad " +
    "query field " +
    "(also `argv.0` when the program is not on PATH); 409 when the VM is not running.",
  request: {
    params: NameParam,
    query: z.object({
      argv: z.array(z.string()).describe("Program and arguments, one parameter each, in order"),
      env: z.array(z.string()).optional().describe("NAME=VALUE, repeated"),
      cwd: z.string().optional().describe("Working directory (default: the user's home)"),
      user: z.string().optional().describe("uid[:gid] or a user name (default root)"),
      rows: z.string().optional().describe("Terminal rows (default 24)"),
      cols: z.string().optional().describe("Terminal columns (default 80)"),
      term: z.string().optional().describe("TERM of the process (default xterm)"),
    }),
  },
  responses: {
    101: { description: "Switching protocols" },
    ...problems(400, 403, 404, 409, 502, 503),
  },
});

/** Relays messages both ways until either side closes. */
function bridge(socket: WebSocket, agent: AgentSocket, name: string, logger: LogSink): void {
  let over = false;
  const end = (code: number, reason: string) => {
    if (over) return;
    over = true;
    agent.close(code === 1000 ? 1000 : 1001, reason);
    if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
      socket.close(code, reason);
    }
  };
  socket.binaryType = "arraybuffer";
  socket.onmessage = (ev: MessageEvent) => {
    const data = typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data as ArrayBuffer);
    agent.send(data).catch((error) => {
      if (!over) logger.warn("exec/pty write failed", { vm: name, error: String(error) });
      end(1011, "the agent session failed");
    });
  };
  socket.onclose = () => end(1000, "client closed");
  socket.onerror = () => end(1011, "websocket error");
  socket.onopen = async () => {
    try {
      for await (const m of agent.messages()) {
        if (socket.readyState === WebSocket.OPEN) {
          socket.send(m as string | Uint8Array<ArrayBuffer>);
        }
      }
      const { code, reason } = await agent.closed;
      end(code === 1000 ? 1000 : 1011, code === 1000 ? reason : `agent closed: ${reason}`);
    } catch (error) {
      logger.warn("exec/pty read failed", { vm: name, error: String(error) });
      end(1011, "the agent session failed");
    }
  };
}

/** The exec/pty router, mounted at /api/v1/vms. */
export function execPtyRoutes(guest: GuestServiceApi, logger: LogSink) {
  const app = newRouter();
  app.openAPIRegistry.registerPath(doc);
  app.get("/:name/exec/pty", async (c) => {
    const name = NameParam.safeParse({ name: c.req.param("name") });
    if (!name.success) {
      throw new VolantError("invalid_input", "invalid path: name is not a DNS label", {
        problems: [{ field: "path.name", message: "must be a DNS label" }],
      });
    }
    if (!originAllowed(c.req.header("origin"), c.req.header("host"))) {
      throw new VolantError("forbidden", "cross-origin exec connections are refused", {
        problems: [{ field: "header.origin", message: "must be the daemon's own origin" }],
      });
    }
    if ((c.req.header("upgrade") ?? "").toLowerCase() !== "websocket") {
      throw new VolantError("invalid_input", "expected a WebSocket upgrade", {
        problems: [{ field: "header.upgrade", message: "must be websocket" }],
      });
    }
    const req = parsePtyQuery(new URL(c.req.url).searchParams);
    if ("field" in req) {
      throw new VolantError("invalid_input", `query.${req.field}: ${req.message}`, {
        problems: [{ field: `query.${req.field}`, message: req.message }],
      });
    }
    const agent = await guest.openPty(name.data.name, req);
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
    bridge(socket, agent, name.data.name, logger);
    return response;
  });
  return app;
}
