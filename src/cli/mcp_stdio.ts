/**
 * The stdio side of `volar mcp`: newline-delimited JSON-RPC on stdin/stdout
 * (the MCP stdio transport, framed with the SDK's own (de)serialiser),
 * bridged message for message to volantd's `/mcp` over streamable HTTP.
 * A request the daemon cannot take (unreachable, session gone) is answered
 * with a JSON-RPC error so the desktop client shows why.
 *
 * @module
 */
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { deserializeMessage, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

/** Where the bridge reads, writes and reports. */
export interface StdioEnds {
  stdin: ReadableStream<Uint8Array>;
  write(data: Uint8Array): Promise<void>;
  /** One diagnostic line (stderr: stdout carries only protocol). */
  log(line: string): void;
}

const encoder = new TextEncoder();

function idOf(m: JSONRPCMessage): string | number | undefined {
  return "id" in m && "method" in m ? (m.id as string | number) : undefined;
}

/**
 * Bridges `ends` to `remote` until stdin ends or `signal` aborts; resolves
 * after the remote transport is closed.
 */
export async function bridgeStdio(
  ends: StdioEnds,
  remote: Transport,
  signal: AbortSignal,
): Promise<void> {
  let writing = Promise.resolve();
  const send = (m: JSONRPCMessage) => {
    // One write at a time, in order: interleaved frames would corrupt the stream.
    writing = writing.then(() => ends.write(encoder.encode(serializeMessage(m))));
    return writing;
  };
  remote.onmessage = (m: JSONRPCMessage) => void send(m);
  remote.onerror = (error: Error) => ends.log(`volar mcp: ${error.message}`);
  await remote.start();

  const forward = async (m: JSONRPCMessage) => {
    try {
      await remote.send(m);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      // Requests are answered below; a failed notification has no one to tell but stderr.
      if (idOf(m) === undefined) ends.log(`volar mcp: ${why}`);
      const id = idOf(m);
      if (id !== undefined) {
        await send({ jsonrpc: "2.0", id, error: { code: -32000, message: `volantd: ${why}` } });
      }
    }
  };

  const reader = ends.stdin.getReader();
  const onAbort = () => void reader.cancel().catch((e) => ends.log(`volar mcp: ${String(e)}`));
  signal.addEventListener("abort", onAbort, { once: true });
  const decoder = new TextDecoder();
  let buffered = "";
  const pending: Promise<void>[] = [];
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl).replace(/\r$/, "");
        buffered = buffered.slice(nl + 1);
        if (line.trim() === "") continue;
        let message: JSONRPCMessage;
        try {
          message = deserializeMessage(line);
        } catch (error) {
          ends.log(`volar mcp: ignoring a line that is not JSON-RPC: ${String(error)}`);
          continue;
        }
        pending.push(forward(message));
      }
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    await Promise.allSettled(pending);
    await writing.catch((e) => ends.log(`volar mcp: stdout: ${String(e)}`));
    await remote.close();
  }
}
