/**
 * How the client reaches volantd: the unix socket (default, trusted, no
 * token) or a TCP base URL with a bearer token. Turns "could not connect"
 * into one `unavailable` VolantError with a hint, and non-2xx answers into
 * VolantErrors rebuilt from problem+json.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { errorFromResponse } from "./problem.ts";
import { DEFAULTS } from "../config/defaults.ts";

/** Default API socket (the config's; docs/development.md, host paths). */
export const DEFAULT_SOCKET: string = DEFAULTS.socket;

/** Where and how to connect. `api` wins over `socket` when both are given. */
export interface ConnectionOptions {
  /** Unix socket path; default {@linkcode DEFAULT_SOCKET}. */
  socket?: string;
  /** TCP base URL such as `http://127.0.0.1:7777`; needs `token`. */
  api?: string;
  /** Bearer token for TCP (`<state>/api-token` on the daemon host). */
  token?: string;
}

/** One request as the client methods describe it. */
export interface RequestSpec {
  method?: string;
  /** Path below the origin, starting with `/`, e.g. `/api/v1/vms`. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /**
   * Give up when the answer has not started after this many ms (default
   * {@linkcode DEFAULT_TIMEOUT_MS}); 0 = wait as long as it takes (installs,
   * VM power operations, streams).
   */
  timeoutMs?: number;
}

/** How long an ordinary request may take before volar gives up. */
export const DEFAULT_TIMEOUT_MS = 120_000;

/** A connection to volantd. */
export interface Transport {
  /** `unix:/run/volant/volantd.sock` or the TCP base URL, for messages. */
  readonly target: string;
  /** Sends a request; resolves to a 2xx response or throws a VolantError. */
  request(spec: RequestSpec): Promise<Response>;
  /** The URL and options to open a WebSocket at `path`. */
  websocket(path: string): { url: string; options: WebSocketOptions };
  close(): void;
}

/** Builds a URL from a base and a request spec, dropping undefined query values. */
export function buildUrl(base: string, spec: Pick<RequestSpec, "path" | "query">): string {
  // Relative to the base so a path prefix in --api is kept.
  const url = new URL(spec.path.replace(/^\//, ""), base);
  for (const [key, value] of Object.entries(spec.query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  return url.href;
}

/** Validates `--api` and returns its origin-relative base (`http://host:port/`). */
export function parseApiBase(api: string): string {
  let url: URL;
  try {
    url = new URL(api);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    throw new VolantError("usage", `--api: '${api}' is not a URL (e.g. http://127.0.0.1:7777)`, {
      problems: [{ field: "--api", message: `'${api}' is not a URL (e.g. http://127.0.0.1:7777)` }],
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new VolantError("usage", `--api: must be an http:// or https:// URL, got '${api}'`);
  }
  // Keep a path prefix (reverse proxies) but make it a directory.
  url.pathname = url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/`;
  url.search = "";
  url.hash = "";
  return url.href;
}

/** A short reason from a fetch TypeError (Deno nests the OS error in the message/cause). */
function connectReason(error: unknown): string {
  const texts: string[] = [];
  let e: unknown = error;
  for (let i = 0; i < 4 && e instanceof Error; i++) {
    texts.push(e.message);
    e = e.cause;
  }
  const all = texts.join(" ");
  if (/No such file or directory|ENOENT/i.test(all)) return "socket does not exist";
  if (/Connection refused|ECONNREFUSED/i.test(all)) return "connection refused";
  if (/Permission denied|EACCES/i.test(all)) return "permission denied";
  if (/timed out/i.test(all)) return "timed out";
  const last = texts.at(-1) ?? String(error);
  return last.replace(/\s+/g, " ").slice(0, 160);
}

/** The `unavailable` error for a failed connection, with a one-line hint. */
export function unavailableError(target: string, socket: string | undefined, error: unknown) {
  const reason = connectReason(error);
  const hint = socket !== undefined
    ? reason === "permission denied"
      ? `run as root or as a member of the socket's group; socket ${socket}`
      : `is volantd running? socket ${socket}`
    : `is volantd running with --listen? api ${target}`;
  return new VolantError("unavailable", `cannot reach volantd (${reason}): ${hint}`, {
    cause: error,
  });
}

/** Opens a transport for `opts`. */
export function createTransport(opts: ConnectionOptions = {}): Transport {
  const socket = opts.api === undefined ? (opts.socket ?? DEFAULT_SOCKET) : undefined;
  const base = opts.api !== undefined ? parseApiBase(opts.api) : "http://volantd/";
  const target = socket !== undefined ? `unix:${socket}` : base;
  const client = socket !== undefined
    ? Deno.createHttpClient({ proxy: { transport: "unix", path: socket } })
    : undefined;
  const authHeaders: Record<string, string> = opts.token
    ? { authorization: `Bearer ${opts.token}` }
    : {};

  async function request(spec: RequestSpec): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json", ...authHeaders };
    let body: string | undefined;
    if (spec.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(spec.body);
    }
    Object.assign(headers, spec.headers ?? {});
    const timeoutMs = spec.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const timer = new AbortController();
    const timeout = timeoutMs > 0 ? setTimeout(() => timer.abort(), timeoutMs) : undefined;
    const signal = spec.signal ? AbortSignal.any([spec.signal, timer.signal]) : timer.signal;
    let res: Response;
    try {
      res = await fetch(buildUrl(base, spec), {
        method: spec.method ?? "GET",
        headers,
        body,
        signal,
        client,
      });
    } catch (error) {
      if (spec.signal?.aborted) throw error;
      if (timer.signal.aborted) {
        const what = `${spec.method ?? "GET"} ${spec.path}`;
        throw new VolantError(
          "unavailable",
          `volantd did not answer ${what} within ${timeoutMs / 1000} s (${target})`,
          { cause: error },
        );
      }
      if (error instanceof TypeError) throw unavailableError(target, socket, error);
      throw error;
    } finally {
      // The timeout covers waiting for the answer to start, not reading a streamed body.
      clearTimeout(timeout);
    }
    if (!res.ok) throw await errorFromResponse(res, target);
    return res;
  }

  return {
    target,
    request,
    websocket(path: string) {
      const url = new URL(path.replace(/^\//, ""), base);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      return { url: url.href, options: { headers: authHeaders, client } };
    },
    close() {
      client?.close();
    },
  };
}
