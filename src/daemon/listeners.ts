/**
 * The daemon's listeners: the unix socket (always; stale socket removed,
 * mode 0660) and optionally TCP (`HOST:PORT`). Each passes its transport to
 * the app so the auth middleware knows which one a request came through.
 *
 * @module
 */
import { dirname } from "node:path";
import { VolantError } from "../errors.ts";
import type { Transport } from "../api/mod.ts";

/** What the listeners call for each request. */
export type AppFetch = (
  req: Request,
  env: { transport: Transport },
) => Response | Promise<Response>;

/** A running listener. */
export interface Listener {
  readonly transport: Transport;
  /** Socket path or `host:port` actually bound. */
  readonly address: string;
  /** Stops accepting; waits up to `graceMs` for open requests, then drops them. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Makes `path` free for a new socket: creates its directory, refuses if a
 * live daemon answers there or a non-socket file sits there, unlinks a stale socket.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  try {
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o755 });
  } catch (error) {
    const why = error instanceof Deno.errors.PermissionDenied
      ? "permission denied (run as root, or choose a path you own)"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new VolantError("invalid_input", `socket: cannot create ${dirname(path)}: ${why}`, {
      cause: error,
      problems: [{ field: "socket", message: `cannot create ${dirname(path)}: ${why}` }],
    });
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (!info.isSocket) {
    throw new VolantError("conflict", `socket path ${path} exists and is not a socket`, {
      problems: [{ field: "socket", message: `${path} exists and is not a socket` }],
    });
  }
  let live = false;
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    live = true;
  } catch (error) {
    if (
      !(error instanceof Deno.errors.ConnectionRefused) && !(error instanceof Deno.errors.NotFound)
    ) throw error;
  }
  if (live) {
    throw new VolantError("conflict", `another volantd is listening on ${path}`, {
      problems: [{ field: "socket", message: `another volantd is listening on ${path}` }],
    });
  }
  await Deno.remove(path);
}

/** Splits `HOST:PORT` (IPv6 in brackets). */
export function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[4]) : NaN;
  if (!m || port < 0 || port > 65535) {
    throw new VolantError("invalid_input", `listen: must be HOST:PORT (got ${listen})`, {
      problems: [{ field: "listen", message: "must be HOST:PORT" }],
    });
  }
  return { hostname: m[2] ?? m[3], port };
}

function wrap(
  server: Deno.HttpServer,
  transport: Transport,
  address: string,
  cleanup?: () => Promise<void>,
): Listener {
  return {
    transport,
    address,
    async close(graceMs = 2000) {
      // Streams (SSE, log follow, console) never finish on their own: bound the wait.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([server.shutdown(), timeout]);
      clearTimeout(timer);
      if (cleanup) await cleanup();
    },
  };
}

/** Serves `fetch` on a unix socket with mode 0660. */
export async function serveUnix(
  path: string,
  fetch: AppFetch,
  onError: (e: unknown) => void,
): Promise<Listener> {
  await prepareSocketPath(path);
  // Bind inside a fresh 0700 directory, set the mode, then rename into place:
  // under a permissive umask a socket bound at `path` directly would accept
  // anyone's connection in the moment before chmod, and keep it.
  const hidden = await Deno.makeTempDir({ dir: dirname(path), prefix: ".volantd-bind-" });
  await Deno.chmod(hidden, 0o700);
  const staged = `${hidden}/sock`;
  let server: Deno.HttpServer;
  try {
    server = Deno.serve(
      {
        path: staged,
        onListen: () => {},
        onError: (e) => (onError(e), new Response(null, { status: 500 })),
      },
      (req) => fetch(req, { transport: "unix" }),
    );
    try {
      await Deno.chmod(staged, 0o660);
      await Deno.rename(staged, path);
    } catch (error) {
      await server.shutdown();
      throw error;
    }
  } finally {
    await Deno.remove(hidden, { recursive: true });
  }
  return wrap(server, "unix", path, async () => {
    try {
      await Deno.remove(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  });
}

/** Serves `fetch` on TCP `HOST:PORT` (port 0 = any free port). */
export function serveTcp(listen: string, fetch: AppFetch, onError: (e: unknown) => void): Listener {
  const { hostname, port } = parseListen(listen);
  let server: Deno.HttpServer;
  try {
    server = Deno.serve(
      {
        hostname,
        port,
        onListen: () => {},
        onError: (e) => (onError(e), new Response(null, { status: 500 })),
      },
      (req) => fetch(req, { transport: "tcp" }),
    );
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.AddrNotAvailable) {
      const why = error instanceof Deno.errors.AddrInUse
        ? "address in use"
        : "address not available on this host";
      throw new VolantError("conflict", `listen ${listen}: cannot bind: ${why}`, {
        cause: error,
        problems: [{ field: "listen", message: `cannot bind ${listen}: ${why}` }],
      });
    }
    throw error;
  }
  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return wrap(server, "tcp", `${host}:${addr.port}`);
}
