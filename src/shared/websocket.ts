/**
 * A minimal RFC 6455 WebSocket client over any byte stream (a `Deno.Conn`:
 * TCP, a unix socket, a channel stream), for the one place the platform
 * WebSocket cannot go: an already dialled connection. Handshake with extra
 * headers, masked frames out, fragmented messages in, ping answered, close
 * handshake. No extensions, no subprotocols.
 *
 * @module
 */

/** What the client needs of a connection; `Deno.Conn` satisfies it. */
export interface WsStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  close(): void;
}

/** An HTTP answer other than 101: the server refused the upgrade. */
export interface WsRefusal {
  status: number;
  headers: Headers;
  body: string;
}

/** A message: text or binary. */
export type WsMessage = string | Uint8Array;

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_HEAD = 16 * 1024;
const MAX_MESSAGE = 16 * 1024 * 1024;
const encoder = new TextEncoder();

/** Reads whole chunks from the stream with a pushback buffer. */
class Bytes {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf = new Uint8Array(0);

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  async #more(): Promise<boolean> {
    const { value, done } = await this.#reader.read();
    if (done) return false;
    const joined = new Uint8Array(this.#buf.length + value.length);
    joined.set(this.#buf);
    joined.set(value, this.#buf.length);
    this.#buf = joined;
    return true;
  }

  /** Exactly `n` bytes, or null at the end of the stream. */
  async take(n: number): Promise<Uint8Array | null> {
    while (this.#buf.length < n) if (!await this.#more()) return null;
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** Everything up to and including the first `\r\n\r\n`. */
  async head(): Promise<string | null> {
    for (;;) {
      const text = new TextDecoder("latin1").decode(this.#buf);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        this.#buf = this.#buf.subarray(end + 4);
        return text.slice(0, end);
      }
      if (this.#buf.length > MAX_HEAD) throw new Error("websocket: HTTP head too large");
      if (!await this.#more()) return null;
    }
  }

  async rest(max: number): Promise<Uint8Array> {
    while (this.#buf.length < max && await this.#more()) { /* read on */ }
    return this.#buf.slice(0, max);
  }

  release(): void {
    this.#reader.releaseLock();
  }
}

async function acceptFor(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return new Uint8Array(digest).toBase64();
}

/** One frame, masked as a client must. */
export function encodeFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const len = payload.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + ext + 4 + len);
  out[0] = (fin ? 0x80 : 0) | opcode;
  const view = new DataView(out.buffer);
  if (ext === 0) out[1] = 0x80 | len;
  else if (ext === 2) {
    out[1] = 0x80 | 126;
    view.setUint16(2, len);
  } else {
    out[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(len));
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, 2 + ext);
  const at = 6 + ext;
  for (let i = 0; i < len; i++) out[at + i] = payload[i] ^ mask[i & 3];
  return out;
}

/** An open WebSocket. */
export class WsClient {
  readonly #bytes: Bytes;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stream: WsStream;
  #writes: Promise<void> = Promise.resolve();
  #closeSent = false;
  #closed = false;
  #resolveClosed!: (v: { code: number; reason: string }) => void;
  /** Settles when the connection is over, with the peer's close code (1006: none). */
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(stream: WsStream, bytes: Bytes) {
    this.#stream = stream;
    this.#bytes = bytes;
    this.#writer = stream.writable.getWriter();
    this.closed = new Promise((r) => this.#resolveClosed = r);
  }

  #write(frame: Uint8Array): Promise<void> {
    this.#writes = this.#writes.then(() => this.#writer.write(frame));
    return this.#writes;
  }

  /** Sends a text (string) or binary message. */
  send(data: WsMessage): Promise<void> {
    if (this.#closeSent) return Promise.reject(new Error("websocket: closed"));
    return typeof data === "string"
      ? this.#write(encodeFrame(1, encoder.encode(data)))
      : this.#write(encodeFrame(2, data));
  }

  /** Starts the close handshake (the peer's answer ends `messages()`). */
  close(code = 1000, reason = ""): void {
    if (this.#closeSent || this.#closed) return;
    this.#closeSent = true;
    const r = encoder.encode(reason).subarray(0, 123);
    const p = new Uint8Array(2 + r.length);
    new DataView(p.buffer).setUint16(0, code);
    p.set(r, 2);
    this.#write(encodeFrame(8, p)).catch((_gone) => this.#finish(1006, "connection lost"));
  }

  #finish(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#resolveClosed({ code, reason });
    try {
      this.#stream.close();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
  }

  /** The peer's messages until it closes (or the connection ends). */
  async *messages(): AsyncGenerator<WsMessage> {
    let parts: Uint8Array[] = [];
    let size = 0;
    let opcode = 0;
    try {
      for (;;) {
        const h = await this.#bytes.take(2);
        if (!h) break;
        let len = h[1] & 0x7f;
        if (len === 126) {
          const e = await this.#bytes.take(2);
          if (!e) break;
          len = new DataView(e.buffer).getUint16(0);
        } else if (len === 127) {
          const e = await this.#bytes.take(8);
          if (!e) break;
          len = Number(new DataView(e.buffer).getBigUint64(0));
        }
        if (len > MAX_MESSAGE) throw new Error(`websocket: frame of ${len} bytes`);
        const mask = h[1] & 0x80 ? await this.#bytes.take(4) : null;
        const payload = len === 0 ? new Uint8Array(0) : await this.#bytes.take(len);
        if (!payload) break;
        if (mask) { for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3]; }
        const op = h[0] & 0x0f;
        if (op === 8) {
          const code = payload.length >= 2 ? new DataView(payload.buffer).getUint16(0) : 1005;
          const reason = new TextDecoder().decode(payload.subarray(2));
          if (!this.#closeSent) {
            this.#closeSent = true;
            await this.#write(encodeFrame(8, payload.subarray(0, 2))).catch((_gone) => {});
          }
          this.#finish(code, reason);
          return;
        }
        if (op === 9) {
          await this.#write(encodeFrame(10, payload)).catch((_gone) => {});
          continue;
        }
        if (op === 10) continue;
        if (op !== 0) opcode = op;
        parts.push(payload);
        size += payload.length;
        if (size > MAX_MESSAGE) throw new Error(`websocket: message over ${MAX_MESSAGE} bytes`);
        if (!(h[0] & 0x80)) continue;
        const whole = new Uint8Array(size);
        let at = 0;
        for (const p of parts) {
          whole.set(p, at);
          at += p.length;
        }
        parts = [];
        size = 0;
        yield opcode === 1 ? new TextDecoder().decode(whole) : whole;
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.ConnectionReset)) {
        this.#finish(1006, String(e));
        throw e;
      }
    } finally {
      this.#finish(1006, "connection lost");
    }
  }
}

/**
 * Upgrades `stream` to a WebSocket at `path` (with its query). A non-101
 * answer comes back as a {@linkcode WsRefusal} (its body read up to 64 KiB)
 * and the stream is closed.
 */
export async function connectWebSocket(
  stream: WsStream,
  opts: { host: string; path: string; headers?: Record<string, string> },
): Promise<WsClient | WsRefusal> {
  const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
  const lines = [
    `GET ${opts.path} HTTP/1.1`,
    `Host: ${opts.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
    ...Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
  ];
  const w = stream.writable.getWriter();
  await w.write(encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
  w.releaseLock();
  const bytes = new Bytes(stream.readable);
  const head = await bytes.head();
  if (head === null) {
    stream.close();
    throw new Error("websocket: the connection closed before an answer");
  }
  const [statusLine, ...fields] = head.split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
  if (!Number.isInteger(status)) {
    stream.close();
    throw new Error(`websocket: not an HTTP answer: ${statusLine.slice(0, 80)}`);
  }
  const headers = new Headers();
  for (const f of fields) {
    const i = f.indexOf(":");
    if (i > 0) headers.append(f.slice(0, i).trim(), f.slice(i + 1).trim());
  }
  if (status !== 101) {
    const len = Number(headers.get("content-length") ?? 0);
    const body = new TextDecoder().decode(await bytes.rest(Math.min(len, 65536)));
    bytes.release();
    stream.close();
    return { status, headers, body };
  }
  if (headers.get("sec-websocket-accept") !== await acceptFor(key)) {
    stream.close();
    throw new Error("websocket: the server's Sec-WebSocket-Accept does not match the key");
  }
  return new WsClient(stream, bytes);
}
