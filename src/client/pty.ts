/**
 * An interactive process on a terminal in a VM: the WebSocket
 * `GET /api/v1/vms/{name}/exec/pty` (src/manifest/pty.ts) over a raw
 * connection to volantd, so a refused upgrade still says why (the problem
 * answer: bad field, VM not running, program not on PATH). The WebSocket
 * client (src/shared/websocket.ts) loads on first use.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { ptyQuery, type PtyQueryInput } from "../manifest/pty_query.ts";
import { errorFromResponse } from "./problem.ts";
import type { Transport } from "./transport.ts";

/** An open terminal session. */
export interface PtySession {
  /** Terminal output (binary) and the server's JSON controls (text) until it closes. */
  messages(): AsyncIterable<string | Uint8Array>;
  send(data: string | Uint8Array): Promise<void>;
  close(code?: number, reason?: string): void;
  readonly closed: Promise<{ code: number; reason: string }>;
}

export async function openPty(
  t: Transport,
  name: string,
  req: PtyQueryInput,
): Promise<PtySession> {
  if (!t.dial) throw new VolantError("unavailable", "this connection cannot carry a terminal");
  const { connectWebSocket, WsClient } = await import("../shared/websocket.ts");
  const raw = await t.dial();
  const path = `${raw.prefix}api/v1/vms/${encodeURIComponent(name)}/exec/pty?${ptyQuery(req)}`;
  let ws;
  try {
    ws = await connectWebSocket(raw.conn, { host: raw.host, path, headers: raw.headers });
  } catch (cause) {
    throw new VolantError("unavailable", `volantd ended the terminal session: ${cause}`, { cause });
  }
  if (ws instanceof WsClient) return ws;
  const body = ws.body;
  throw await errorFromResponse({
    ok: false,
    status: ws.status,
    statusText: "",
    headers: ws.headers,
    text: () => Promise.resolve(body),
    json: () => Promise.resolve(JSON.parse(body)),
  }, t.target);
}
