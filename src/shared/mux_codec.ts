/**
 * The agent channel's wire format: many byte streams over one virtio port
 * (virtio-serial on QEMU, vsock on Cloud Hypervisor). Pure: bytes in, frames
 * out; the daemon and kestrel each run it over their own I/O.
 *
 * Frame: `type u8 | stream u32 BE | length u32 BE | payload`, payload at most
 * {@linkcode MAX_PAYLOAD} bytes. The hello is different on purpose: it starts
 * with {@linkcode HELLO_MAGIC} (0xff is no frame type), `length u32 BE`,
 * then a JSON payload. A peer that (re)connects mid-stream, or a decoder
 * that met garbage, scans for the magic ({@linkcode FrameDecoder.resync}),
 * so a restarted daemon or agent finds the frame boundary again.
 *
 * @module
 */

export const FrameType = {
  /** Opens stream `id` (the opener picks the id: host odd, guest even). */
  open: 1,
  /** Bytes of stream `id`, at most the credit the receiver granted. */
  data: 2,
  /** The sender will send no more data on `id` (half close). */
  close: 3,
  /** Stream `id` is gone in both directions. */
  reset: 4,
  /** Payload u32 BE: the receiver grants that many more bytes of credit on `id`. */
  window: 5,
} as const;
export type FrameTypeName = keyof typeof FrameType;

/** 0xff then "VMUX" then version 1. */
export const HELLO_MAGIC: Uint8Array = new Uint8Array([0xff, 0x56, 0x4d, 0x55, 0x58, 0x01]);
export const HEADER_BYTES = 9;
/** Largest payload a frame may carry; a larger length is a protocol error. */
export const MAX_PAYLOAD = 64 * 1024;

export type Frame =
  | { type: "open" | "close" | "reset"; id: number }
  | { type: "data"; id: number; data: Uint8Array }
  | { type: "window"; id: number; credit: number }
  | { type: "hello"; hello: HelloPayload };

/** What a hello carries: a session nonce and, from the host, the VM's agent key. */
export interface HelloPayload {
  nonce: string;
  key?: string;
}

export class MuxProtocolError extends Error {
  override name = "MuxProtocolError";
}

const NAMES = new Map<number, FrameTypeName>(
  Object.entries(FrameType).map(([k, v]) => [v, k as FrameTypeName]),
);

function header(type: number, id: number, length: number): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + length);
  const v = new DataView(out.buffer);
  v.setUint8(0, type);
  v.setUint32(1, id);
  v.setUint32(5, length);
  return out;
}

/** One frame as bytes. */
export function encodeFrame(f: Frame): Uint8Array {
  if (f.type === "hello") {
    const body = new TextEncoder().encode(JSON.stringify(f.hello));
    if (body.length > MAX_PAYLOAD) throw new MuxProtocolError("hello too large");
    const out = new Uint8Array(HELLO_MAGIC.length + 4 + body.length);
    out.set(HELLO_MAGIC);
    new DataView(out.buffer).setUint32(HELLO_MAGIC.length, body.length);
    out.set(body, HELLO_MAGIC.length + 4);
    return out;
  }
  if (f.type === "data") {
    if (f.data.length > MAX_PAYLOAD) {
      throw new MuxProtocolError(`data frame of ${f.data.length} bytes > ${MAX_PAYLOAD}`);
    }
    const out = header(FrameType.data, f.id, f.data.length);
    out.set(f.data, HEADER_BYTES);
    return out;
  }
  if (f.type === "window") {
    const out = header(FrameType.window, f.id, 4);
    new DataView(out.buffer).setUint32(HEADER_BYTES, f.credit);
    return out;
  }
  return header(FrameType[f.type], f.id, 0);
}

function indexOfMagic(buf: Uint8Array, from: number): number {
  outer: for (let i = from; i + HELLO_MAGIC.length <= buf.length; i++) {
    for (let j = 0; j < HELLO_MAGIC.length; j++) {
      if (buf[i + j] !== HELLO_MAGIC[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/**
 * Bytes in, whole frames out, whatever the chunking. In sync mode (the
 * start, and after {@linkcode resync}) everything before a hello is skipped.
 * A bad frame type or an oversize length throws MuxProtocolError; the caller
 * drops the connection or resyncs.
 */
export class FrameDecoder {
  #buf = new Uint8Array(0);
  #syncing: boolean;

  constructor(opts: { sync?: boolean } = {}) {
    this.#syncing = opts.sync ?? true;
  }

  /** True while skipping bytes until the next hello. */
  get syncing(): boolean {
    return this.#syncing;
  }

  /** Drops what is buffered and waits for the next hello. */
  resync(): void {
    this.#buf = new Uint8Array(0);
    this.#syncing = true;
  }

  push(chunk: Uint8Array): Frame[] {
    const buf = new Uint8Array(this.#buf.length + chunk.length);
    buf.set(this.#buf);
    buf.set(chunk, this.#buf.length);
    const frames: Frame[] = [];
    let at = 0;
    try {
      while (true) {
        if (this.#syncing) {
          const m = indexOfMagic(buf, at);
          if (m < 0) {
            // Keep a tail that may be the start of the magic.
            at = Math.max(at, buf.length - (HELLO_MAGIC.length - 1));
            break;
          }
          at = m;
          this.#syncing = false;
        }
        const rest = buf.length - at;
        if (rest < 1) break;
        const view = new DataView(buf.buffer, buf.byteOffset + at);
        if (buf[at] === HELLO_MAGIC[0]) {
          const head = HELLO_MAGIC.length + 4;
          if (rest < head) break;
          if (indexOfMagic(buf.subarray(at, at + HELLO_MAGIC.length), 0) !== 0) {
            throw new MuxProtocolError("bad hello magic");
          }
          const len = view.getUint32(HELLO_MAGIC.length);
          if (len > MAX_PAYLOAD) throw new MuxProtocolError(`hello of ${len} bytes`);
          if (rest < head + len) break;
          const text = new TextDecoder().decode(buf.subarray(at + head, at + head + len));
          at += head + len;
          frames.push({ type: "hello", hello: parseHello(text) });
          continue;
        }
        if (rest < HEADER_BYTES) break;
        const name = NAMES.get(buf[at]);
        if (!name) throw new MuxProtocolError(`unknown frame type ${buf[at]}`);
        const id = view.getUint32(1);
        const len = view.getUint32(5);
        if (len > MAX_PAYLOAD) {
          throw new MuxProtocolError(`frame of ${len} bytes > ${MAX_PAYLOAD} (stream ${id})`);
        }
        if (rest < HEADER_BYTES + len) break;
        const payload = buf.slice(at + HEADER_BYTES, at + HEADER_BYTES + len);
        at += HEADER_BYTES + len;
        if (name === "data") frames.push({ type: "data", id, data: payload });
        else if (name === "window") {
          if (len !== 4) throw new MuxProtocolError(`window frame of ${len} bytes`);
          frames.push({ type: "window", id, credit: new DataView(payload.buffer).getUint32(0) });
        } else frames.push({ type: name, id });
      }
    } catch (e) {
      this.resync();
      throw e;
    }
    this.#buf = buf.slice(at);
    return frames;
  }
}

function parseHello(text: string): HelloPayload {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    throw new MuxProtocolError("hello is not JSON");
  }
  const o = v as Partial<HelloPayload>;
  if (typeof o !== "object" || o === null || typeof o.nonce !== "string") {
    throw new MuxProtocolError("hello without a nonce");
  }
  if (o.key !== undefined && typeof o.key !== "string") {
    throw new MuxProtocolError("hello key is not a string");
  }
  return o.key === undefined ? { nonce: o.nonce } : { nonce: o.nonce, key: o.key };
}
