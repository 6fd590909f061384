/**
 * One HTTP/1.1 exchange over volantd's unix socket, read whole: the fast path
 * for ordinary API calls. `fetch` costs tens of ms on its first use in a
 * process (HTTP client set-up), more than the rest of `volar vms list`;
 * a plain request on `Deno.connect` does not. Streams (logs, events, console)
 * stay on fetch (transport.ts chooses). The answer is a
 * {@linkcode BufferedResponse}, not a `Response`: even constructing a Response
 * (or Headers) loads Deno's fetch code on first use.
 *
 * @module
 */
import { VolantError } from "../errors.ts";

/** What a buffered call answers: the parts of `Response` the client reads (a Response is one). */
export interface BufferedResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/** An answer read whole from the socket. */
class SocketResponse implements BufferedResponse {
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  constructor(
    readonly status: number,
    readonly statusText: string,
    fields: Map<string, string[]>,
    readonly bytes: Uint8Array,
  ) {
    this.ok = status >= 200 && status < 300;
    // Repeated fields join with ", ", as Headers.get does.
    this.headers = { get: (name) => fields.get(name.toLowerCase())?.join(", ") ?? null };
  }
  text(): Promise<string> {
    return Promise.resolve(dec.decode(this.bytes));
  }
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
}

/** A request as written on the socket. */
export interface UnixHttpRequest {
  method: string;
  /** Path and query, e.g. `/api/v1/vms?limit=5`. */
  target: string;
  headers: Record<string, string>;
  body?: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const NO_BODY = new Set([101, 103, 204, 205, 304]);

function malformed(why: string): VolantError {
  return new VolantError("upstream", `volantd sent a malformed HTTP answer (${why})`);
}

function indexOf(bytes: Uint8Array, seq: number[], from = 0): number {
  outer: for (let i = from; i <= bytes.length - seq.length; i++) {
    for (let j = 0; j < seq.length; j++) if (bytes[i + j] !== seq[j]) continue outer;
    return i;
  }
  return -1;
}

const CRLF = [13, 10];

/** The body of a `transfer-encoding: chunked` answer, read whole. */
export function dechunk(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    const eol = indexOf(bytes, CRLF, at);
    if (eol === -1) throw malformed("chunk size line");
    const size = parseInt(dec.decode(bytes.subarray(at, eol)).split(";")[0].trim(), 16);
    if (!Number.isInteger(size) || size < 0) throw malformed("chunk size");
    if (size === 0) break;
    const start = eol + 2;
    if (start + size > bytes.length) throw malformed("short chunk");
    parts.push(bytes.subarray(start, start + size));
    at = start + size + 2;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Parses a whole HTTP/1.1 answer. */
export function parseResponse(bytes: Uint8Array): BufferedResponse {
  const headEnd = indexOf(bytes, [13, 10, 13, 10]);
  if (headEnd === -1) throw malformed("no end of headers");
  const [statusLine, ...lines] = dec.decode(bytes.subarray(0, headEnd)).split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) throw malformed(`status line '${statusLine.slice(0, 40)}'`);
  const status = Number(m[1]);
  const fields = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw malformed(`header line '${line.slice(0, 40)}'`);
    const name = line.slice(0, colon).trim().toLowerCase();
    fields.set(name, [...(fields.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  const field = (name: string) => fields.get(name)?.join(", ");
  let body = bytes.subarray(headEnd + 4);
  if (/\bchunked\b/i.test(field("transfer-encoding") ?? "")) body = dechunk(body);
  else if (field("content-length") !== undefined) {
    const length = Number(field("content-length"));
    if (!Number.isInteger(length) || length < 0 || length > body.length) {
      throw malformed("content-length");
    }
    body = body.subarray(0, length);
  }
  return new SocketResponse(
    status,
    m[2] ?? "",
    fields,
    NO_BODY.has(status) ? new Uint8Array() : body,
  );
}

/**
 * Sends `req` on the unix socket at `path` (`connection: close`) and reads the
 * answer to its end. Socket errors propagate as Deno errors (the transport
 * turns them into `unavailable`); aborting `signal` closes the connection.
 */
export async function unixHttp(
  path: string,
  req: UnixHttpRequest,
  signal: AbortSignal,
): Promise<BufferedResponse> {
  signal.throwIfAborted();
  const conn = await Deno.connect({ transport: "unix", path });
  const onAbort = () => conn.close();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const body = req.body === undefined ? undefined : enc.encode(req.body);
    let head = `${req.method} ${req.target} HTTP/1.1\r\nhost: volantd\r\nconnection: close\r\n`;
    for (const [k, v] of Object.entries(req.headers)) head += `${k}: ${v}\r\n`;
    if (body !== undefined) head += `content-length: ${body.length}\r\n`;
    const headBytes = enc.encode(`${head}\r\n`);
    const out = new Uint8Array(headBytes.length + (body?.length ?? 0));
    out.set(headBytes);
    if (body !== undefined) out.set(body, headBytes.length);
    for (let n = 0; n < out.length;) n += await conn.write(out.subarray(n));
    const chunks: Uint8Array[] = [];
    let total = 0;
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      total += n;
    }
    const all = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      all.set(c, o);
      o += c.length;
    }
    return parseResponse(all);
  } finally {
    signal.removeEventListener("abort", onAbort);
    if (!signal.aborted) conn.close();
  }
}
