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
import { type BufferedResponse, unixHttp } from "./unix_http.ts";

export type { BufferedResponse };

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
  /** A body sent as is (file copies), instead of `body` as JSON; set content-type in headers. */
  rawBody?: ReadableStream<Uint8Array<ArrayBuffer>> | Uint8Array<ArrayBuffer>;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /**
   * Give up when the answer has not started after this many ms (default
   * {@linkcode DEFAULT_TIMEOUT_MS}); 0 = wait as long as it takes (installs,
   * VM power operations, streams).
   */
  timeoutMs?: number;
  /**
   * The answer is read whole before request() resolves (no streaming). On
   * the unix socket such a request goes out on a plain connection instead of
   * fetch, whose first use costs more than the rest of a CLI call.
   */
  buffered?: boolean;
}

/** How long an ordinary request may take before volar gives up. */
export const DEFAULT_TIMEOUT_MS = 120_000;

/** See Transport.dial. */
export interface RawConnection {
  conn: Deno.Conn;
  host: string;
  /** `/` or the --api path prefix, ending in `/`. */
  prefix: string;
  headers: Record<string, string>;
}

/** A connection to volantd. */
export interface Transport {
  /** `unix:/run/volant/volantd.sock` or the TCP base URL, for messages. */
  readonly target: string;
  /** Sends a request; resolves to a 2xx response or throws a VolantError. */
  request(spec: RequestSpec & { buffered: true }): Promise<BufferedResponse>;
  request(spec: RequestSpec): Promise<Response>;
  /** The URL and options to open a WebSocket at `path`. */
  websocket(path: string): { url: string; options: WebSocketOptions };
  /**
   * A raw connection to volantd (the unix socket, or TCP for an http://
   * --api) with the Host, path prefix and headers a request on it needs:
   * for WebSockets that must see the HTTP answer of a refused upgrade.
   */
  dial?(): Promise<RawConnection>;
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

/** An OS error from the plain socket path (connect, read, write). */
function isSocketError(error: unknown): boolean {
  return Object.values(Deno.errors).some((E) => error instanceof E);
}

/** Opens a transport for `opts`. */
export function createTransport(opts: ConnectionOptions = {}): Transport {
  const socket = opts.api === undefined ? (opts.socket ?? DEFAULT_SOCKET) : undefined;
  const base = opts.api !== undefined ? parseApiBase(opts.api) : "http://volantd/";
  const target = socket !== undefined ? `unix:${socket}` : base;
  // fetch's client for the socket is made on first use: buffered calls never need it.
  let client: Deno.HttpClient | undefined;
  const httpClient = () =>
    socket === undefined
      ? undefined
      : client ??= Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  const authHeaders: Record<string, string> = opts.token
    ? { authorization: `Bearer ${opts.token}` }
    : {};

  async function request(spec: RequestSpec): Promise<Response | BufferedResponse> {
    const headers: Record<string, string> = { accept: "application/json", ...authHeaders };
    let body:
      | string
      | ReadableStream<Uint8Array<ArrayBuffer>>
      | Uint8Array<ArrayBuffer>
      | undefined;
    if (spec.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(spec.body);
    } else if (spec.rawBody !== undefined) body = spec.rawBody;
    Object.assign(headers, spec.headers ?? {});
    const timeoutMs = spec.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // Raw byte or stream bodies (exec stdin, file upload) always go through fetch.
    const plain = socket !== undefined && spec.buffered === true &&
      (body === undefined || typeof body === "string");
    // A plain socket call times out through AbortSignal.timeout: the global setTimeout loads
    // Deno's Node-compatible timers (tens of ms) on first use. A fetch stream needs a timer it
    // can clear once the answer has started.
    let timedOut: AbortSignal;
    let timeout: ReturnType<typeof setTimeout> | undefined;
    if (plain) {
      timedOut = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : new AbortController().signal;
    } else {
      const timer = new AbortController();
      timedOut = timer.signal;
      if (timeoutMs > 0) timeout = setTimeout(() => timer.abort(), timeoutMs);
    }
    const signal = spec.signal ? AbortSignal.any([spec.signal, timedOut]) : timedOut;
    let res: Response | BufferedResponse;
    try {
      if (plain && socket !== undefined && (body === undefined || typeof body === "string")) {
        const url = new URL(buildUrl(base, spec));
        const method = spec.method ?? "GET";
        const target = `${url.pathname}${url.search}`;
        res = await unixHttp(socket, { method, target, headers, body }, signal);
      } else {
        res = await fetch(buildUrl(base, spec), {
          method: spec.method ?? "GET",
          headers,
          body,
          signal,
          client: httpClient(),
        });
      }
    } catch (error) {
      if (spec.signal?.aborted) throw error;
      if (timedOut.aborted) {
        const what = `${spec.method ?? "GET"} ${spec.path}`;
        throw new VolantError(
          "unavailable",
          `volantd did not answer ${what} within ${timeoutMs / 1000} s (${target})`,
          { cause: error },
        );
      }
      if (error instanceof TypeError || isSocketError(error)) {
        throw unavailableError(target, socket, error);
      }
      throw error;
    } finally {
      // The timeout covers waiting for the answer to start, not reading a streamed body.
      if (timeout !== undefined) clearTimeout(timeout);
    }
    if (!res.ok) throw await errorFromResponse(res, target);
    return res;
  }

  return {
    target,
    request: request as Transport["request"],
    websocket(path: string) {
      const url = new URL(path.replace(/^\//, ""), base);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      return { url: url.href, options: { headers: authHeaders, client: httpClient() } };
    },
    async dial() {
      try {
        if (socket !== undefined) {
          const conn = await Deno.connect({ transport: "unix", path: socket });
          return { conn, host: "volantd", prefix: "/", headers: authHeaders };
        }
        const url = new URL(base);
        if (url.protocol !== "http:") {
          throw new VolantError("usage", `--api: a terminal session needs http://, got ${base}`);
        }
        const port = Number(url.port || 80);
        const conn = await Deno.connect({ hostname: url.hostname.replace(/^\[|\]$/g, ""), port });
        return { conn, host: url.host, prefix: url.pathname, headers: authHeaders };
      } catch (error) {
        if (isSocketError(error)) throw unavailableError(target, socket, error);
        throw error;
      }
    },
    close() {
      client?.close();
    },
  };
}
