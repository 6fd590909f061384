/**
 * A small QMP client: one connection per command (QEMU serves one QMP client
 * at a time, so we never hold it), capability negotiation, then execute.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";

/** What query-status returns (the fields we use). */
export interface QmpStatus {
  status: string;
  running: boolean;
}

class LineReader {
  #buf = "";
  #decoder = new TextDecoder();
  constructor(private conn: Deno.UnixConn) {}

  /** Next JSON object from the stream; null at EOF. */
  async next(): Promise<Record<string, unknown> | null> {
    while (true) {
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl).trim();
        this.#buf = this.#buf.slice(nl + 1);
        if (line) return JSON.parse(line);
        continue;
      }
      const chunk = new Uint8Array(4096);
      const n = await this.conn.read(chunk);
      if (n === null) return null;
      this.#buf += this.#decoder.decode(chunk.subarray(0, n), { stream: true });
    }
  }
}

/**
 * Runs one QMP command on the socket at `path`. `eofIsOk` accepts the
 * connection closing before the reply (QEMU exiting on `quit`).
 */
export async function qmpExecute(
  path: string,
  command: string,
  args?: Record<string, unknown>,
  opts: { timeoutMs?: number; eofIsOk?: boolean } = {},
): Promise<unknown> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (e) {
    throw new VolantError("unavailable", `QMP socket ${path} not reachable: ${String(e)}`, {
      cause: e,
    });
  }
  const timer = setTimeout(() => conn.close(), opts.timeoutMs ?? 5000);
  const send = (o: unknown) => conn.write(new TextEncoder().encode(JSON.stringify(o) + "\n"));
  try {
    const reader = new LineReader(conn);
    const greeting = await reader.next();
    if (!greeting || !("QMP" in greeting)) throw new Error("no QMP greeting");
    await send({ execute: "qmp_capabilities", id: "caps" });
    await replyFor(reader, "caps");
    await send(
      args ? { execute: command, arguments: args, id: "cmd" } : {
        execute: command,
        id: "cmd",
      },
    );
    const reply = await replyFor(reader, "cmd");
    if (reply === null) {
      if (opts.eofIsOk) return null;
      throw new Error(`connection closed before the reply to ${command}`);
    }
    return reply;
  } catch (e) {
    if (e instanceof VolantError) throw e;
    // Our timer closing the connection surfaces as BadResource/Interrupted.
    const timedOut = e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted;
    const dropped = e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe;
    // QEMU may drop the socket mid-reply while exiting; the caller waits for the exit anyway.
    if (opts.eofIsOk && dropped) return null;
    throw new VolantError(
      "upstream",
      `QMP ${command} on ${path} failed${timedOut ? " (timeout)" : ""}: ${String(e)}`,
      { cause: e },
    );
  } finally {
    clearTimeout(timer);
    closeConn(conn);
  }
}

function closeConn(conn: Deno.UnixConn): void {
  try {
    conn.close();
  } catch (e) {
    // Already closed by the timeout: nothing left to release.
    if (!(e instanceof Deno.errors.BadResource)) throw e;
  }
}

async function replyFor(reader: LineReader, id: string): Promise<unknown | null> {
  while (true) {
    const msg = await reader.next();
    if (msg === null) return null;
    if (msg.id !== id) continue; // asynchronous events interleave with replies
    if ("error" in msg) {
      const err = msg.error as { class?: string; desc?: string };
      throw new VolantError("upstream", `QMP error ${err.class}: ${err.desc}`);
    }
    return msg.return ?? {};
  }
}

/** query-status, typed. */
export async function qmpStatus(path: string): Promise<QmpStatus> {
  return (await qmpExecute(path, "query-status")) as QmpStatus;
}
