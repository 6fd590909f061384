/**
 * The framing kestrel speaks with the PTY helper (shim/pty.c) on its stdin
 * and stdout: 1 type byte, 4 length bytes (big endian), the payload.
 *
 * @module
 */

/** Frame types: `d` data, `r` resize, `s` signal (to the helper); `d`, `x` exit (from it). */
export type HelperFrameType = "d" | "r" | "s" | "x";

export interface HelperFrame {
  type: string;
  payload: Uint8Array;
}

/** The largest payload the helper accepts. */
export const MAX_HELPER_PAYLOAD = 65536;

export function encodeFrame(type: HelperFrameType, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}

/** Data frames for `bytes`, split at the helper's payload limit. */
export function dataFrames(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += MAX_HELPER_PAYLOAD) {
    out.push(encodeFrame("d", bytes.subarray(at, at + MAX_HELPER_PAYLOAD)));
  }
  return out;
}

export function resizeFrame(rows: number, cols: number): Uint8Array {
  const p = new Uint8Array(4);
  new DataView(p.buffer).setUint16(0, rows);
  new DataView(p.buffer).setUint16(2, cols);
  return encodeFrame("r", p);
}

export function signalFrame(signo: number): Uint8Array {
  return encodeFrame("s", Uint8Array.of(signo));
}

/** The frames of a byte stream, as they complete. */
export async function* readFrames(stream: ReadableStream<Uint8Array>): AsyncGenerator<HelperFrame> {
  let buf = new Uint8Array(0);
  for await (const chunk of stream) {
    const joined = new Uint8Array(buf.length + chunk.length);
    joined.set(buf);
    joined.set(chunk, buf.length);
    buf = joined;
    while (buf.length >= 5) {
      const len = new DataView(buf.buffer, buf.byteOffset).getUint32(1);
      if (buf.length < 5 + len) break;
      yield { type: String.fromCharCode(buf[0]), payload: buf.slice(5, 5 + len) };
      buf = buf.subarray(5 + len);
    }
  }
}

/** The exit frame's payload as an exit code (128+N when signalled) and signal number. */
export function decodeExit(payload: Uint8Array): { code: number; signo: number } {
  return payload[0] === 1 ? { code: 128 + payload[1], signo: payload[1] } : {
    code: payload[1],
    signo: 0,
  };
}
