/**
 * The MCP client side of volantd's `/mcp` endpoint: an SDK streamable-HTTP
 * transport that reaches the daemon the way every other client call does
 * (the unix socket by default, or `--api` + bearer token over TCP). Used by
 * `volar mcp` (which bridges it to stdio) and by tests driving the SDK client.
 *
 * @module
 */
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  type ConnectionOptions,
  DEFAULT_SOCKET,
  parseApiBase,
  unavailableError,
} from "./transport.ts";

/** The transport plus the HTTP client it owns. */
export interface McpConnection {
  transport: StreamableHTTPClientTransport;
  /** `unix:<socket>` or the TCP base URL, for messages. */
  target: string;
  /** Closes the transport and the HTTP client. */
  close(): Promise<void>;
}

/** A transport to `<daemon>/mcp`: unix socket by default, `api` + `token` over TCP. */
export function connectMcp(opts: ConnectionOptions = {}): McpConnection {
  const socket = opts.api === undefined ? (opts.socket ?? DEFAULT_SOCKET) : undefined;
  const base = opts.api !== undefined ? parseApiBase(opts.api) : "http://volantd/";
  const client = socket !== undefined
    ? Deno.createHttpClient({ proxy: { transport: "unix", path: socket } })
    : undefined;
  const headers: Record<string, string> = opts.token
    ? { authorization: `Bearer ${opts.token}` }
    : {};
  const target = socket !== undefined ? `unix:${socket}` : base;
  const transport = new StreamableHTTPClientTransport(new URL("mcp", base), {
    requestInit: { headers },
    fetch: async (url: string | URL, init?: RequestInit) => {
      try {
        return await fetch(url, { ...init, client });
      } catch (error) {
        // Same one-line reason and hint as every other volar command.
        if (error instanceof TypeError) throw unavailableError(target, socket, error);
        throw error;
      }
    },
  });
  return {
    transport,
    target,
    async close() {
      try {
        await transport.close();
      } finally {
        client?.close();
      }
    },
  };
}
