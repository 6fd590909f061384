/**
 * A WebSocket to a VM's agent (the PTY exec session) over {@linkcode dialAgent},
 * with the VM's agent key. Loaded on first use.
 *
 * @module
 */
import { AGENT_KEY_HEADER } from "../manifest/cmdline.ts";
import type { AgentSocket, GuestTarget } from "../service/ports.ts";
import { connectWebSocket, WsClient } from "../shared/websocket.ts";
import { dialAgent, type DialOptions } from "./agent_dial.ts";

/** Opens `path` on the agent as a WebSocket; a refused upgrade comes back as its Response. */
export async function openAgentSocket(
  target: GuestTarget,
  path: string,
  opts: DialOptions = {},
): Promise<AgentSocket | Response> {
  const port = opts.port;
  const conn = await dialAgent(target, opts);
  const ws = await connectWebSocket(conn, {
    host: `${target.ip || "kestrel"}:${port ?? 8080}`,
    path,
    headers: target.key ? { [AGENT_KEY_HEADER]: target.key } : {},
  });
  if (ws instanceof WsClient) return ws;
  return new Response(ws.body, { status: ws.status, headers: ws.headers });
}
