/**
 * `volar mcp`: an MCP server on stdio for desktop agents configured with a
 * command line; every message is forwarded to volantd's `/mcp` (unix socket
 * by default, or --api + --token), so tools, resources and notifications are
 * the daemon's own.
 *
 * @module
 */
import type { Command } from "./command.ts";

export const mcpServe: Command = {
  path: ["mcp"],
  summary: "serve MCP on stdio, forwarding to volantd's /mcp (for desktop agents)",
  args: "",
  description: "Reads JSON-RPC messages from stdin, one per line, and writes the daemon's\n" +
    "answers and notifications to stdout; diagnostics go to stderr. Ends when stdin closes.\n" +
    "See docs/mcp.md for the agent configuration snippet.",
  example: "volar mcp --socket /run/volant/volantd.sock",
  options: {},
  interruptible: true,
  arity: [0, 0],
  async run(ctx) {
    // Loaded here: the MCP SDK is not worth loading for every other volar command.
    const { connectMcp } = await import("../client/mcp.ts");
    const { bridgeStdio } = await import("./mcp_stdio.ts");
    const conn = connectMcp(ctx.connection);
    try {
      await bridgeStdio(
        { stdin: ctx.io.stdin, write: (d) => ctx.io.write(d), log: (l) => ctx.io.err(l) },
        conn.transport,
        ctx.signal,
      );
    } finally {
      await conn.close();
    }
    return 0;
  },
};
