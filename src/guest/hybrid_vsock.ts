/**
 * The host side of Cloud Hypervisor's hybrid vsock (docs/vsock.md upstream):
 * the VM's vsock device is a unix socket on the host (`--vsock socket=PATH`).
 *
 * - host -> guest: connect to PATH, send `CONNECT <port>\n`, read
 *   `OK <host port>\n`; from then on the stream is the guest listener's.
 *   If nothing listens on that guest port the guest resets the connection
 *   and the host sees it closed without `OK`.
 * - guest -> host: the guest connects to CID 2, port P; Cloud Hypervisor
 *   forwards it to a host listener at `PATH_P`.
 *
 * Transport only (no Volant framing): the agent channel builds on it. It
 * imports nothing but the error type, so any adapter may use it.
 *
 * @module
 */
import { VolantError } from "../errors.ts";

/** An open host -> guest stream. */
export interface HybridVsockStream {
  conn: Deno.UnixConn;
  /** The host-side port Cloud Hypervisor allocated (the `OK` answer). */
  hostPort: number;
}

/** Options for `connectHybridVsock`. */
export interface HybridVsockConnectOptions {
  /** Whole handshake budget (default 5 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The longest answer we accept: `OK 4294967295\n` is 14 bytes. */
const MAX_ANSWER = 32;

function checkPort(port: number, field: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff_ffff) {
    throw new VolantError("invalid_input", `${field} must be a vsock port (0..4294967295)`, {
      problems: [{ field, message: "an integer 0..4294967295" }],
    });
  }
}

/**
 * Connects to guest vsock `port` through the hybrid-vsock socket `socketPath`.
 * Reads the answer byte by byte so no guest data after `OK` is swallowed.
 * Errors: `unavailable` (socket missing, nothing listening in the guest,
 * timeout), `upstream` (an answer that is not `OK <n>`).
 */
export async function connectHybridVsock(
  socketPath: string,
  port: number,
  opts: HybridVsockConnectOptions = {},
): Promise<HybridVsockStream> {
  checkPort(port, "port");
  const timeoutMs = opts.timeoutMs ?? 5_000;
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: socketPath });
  } catch (e) {
    throw new VolantError("unavailable", `vsock socket ${socketPath} not reachable: ${e}`, {
      cause: e,
    });
  }
  let timedOut = false;
  const abort = () => {
    timedOut = true;
    try {
      conn.close();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
  };
  const timer = setTimeout(abort, timeoutMs);
  opts.signal?.addEventListener("abort", abort, { once: true });
  try {
    await writeAll(conn, new TextEncoder().encode(`CONNECT ${port}\n`));
    const answer = await readLine(conn);
    if (answer === null) {
      throw new VolantError(
        "unavailable",
        `nothing listens on vsock port ${port} in the guest (${socketPath} closed the connection)`,
      );
    }
    const m = /^OK (\d+)$/.exec(answer);
    if (!m) {
      throw new VolantError(
        "upstream",
        `vsock ${socketPath}: unexpected answer ${JSON.stringify(answer)}`,
      );
    }
    return { conn, hostPort: Number(m[1]) };
  } catch (e) {
    if (!timedOut) {
      try {
        conn.close();
      } catch (err) {
        if (!(err instanceof Deno.errors.BadResource)) throw err;
      }
    }
    if (timedOut) {
      throw new VolantError(
        "unavailable",
        `vsock port ${port} via ${socketPath}: no answer within ${timeoutMs} ms`,
        { cause: e },
      );
    }
    if (e instanceof VolantError) throw e;
    throw new VolantError("unavailable", `vsock port ${port} via ${socketPath}: ${e}`, {
      cause: e,
    });
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", abort);
  }
}

/** Where the host listens for guest connections to (CID 2) `port`: `<socketPath>_<port>`. */
export function hostListenerPath(socketPath: string, port: number): string {
  checkPort(port, "port");
  return `${socketPath}_${port}`;
}

/**
 * Listens for guest -> host connections to `port`. A stale socket file (left
 * by a crash) is replaced. The caller closes the listener and removes the file.
 */
export async function listenHybridVsock(
  socketPath: string,
  port: number,
): Promise<Deno.UnixListener> {
  const path = hostListenerPath(socketPath, port);
  try {
    await Deno.remove(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return Deno.listen({ transport: "unix", path });
}

/** One line without its `\n`, read a byte at a time; null on EOF before it. */
async function readLine(conn: Deno.UnixConn): Promise<string | null> {
  const bytes: number[] = [];
  const one = new Uint8Array(1);
  while (bytes.length < MAX_ANSWER) {
    let n: number | null;
    try {
      n = await conn.read(one);
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionReset) return null; // the guest's RST
      throw e;
    }
    if (n === null) return null;
    if (one[0] === 0x0a) return new TextDecoder().decode(new Uint8Array(bytes));
    bytes.push(one[0]);
  }
  throw new VolantError("upstream", `vsock answer longer than ${MAX_ANSWER} bytes`);
}

async function writeAll(conn: Deno.UnixConn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
