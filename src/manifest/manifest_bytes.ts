/**
 * The byte-level half of the `volant.manifest` decoder, synchronous and
 * cheap at a cold start (kestrel runs it on its way to spawning the
 * workload): base64/base64url without atob, gunzip without
 * DecompressionStream (./inflate.ts), UTF-8 without TextDecoder for ASCII.
 *
 * @module
 */
import { gunzip } from "./inflate.ts";

/** Largest manifest JSON the decoder inflates (the cmdline carries at most 2 KiB). */
export const MANIFEST_MAX_BYTES = 1 << 20;

const B64 = (() => {
  const map = new Int8Array(128).fill(-1);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (let i = 0; i < 62; i++) map[alphabet.charCodeAt(i)] = i;
  map[45] = map[43] = 62; // "-" (url) and "+"
  map[95] = map[47] = 63; // "_" (url) and "/"
  return map;
})();

/**
 * base64 or base64url (padding optional) to bytes, or null if `text` is not
 * that. A plain loop: atob's first call costs several ms at cold start.
 */
export function base64UrlBytes(text: string): Uint8Array | null {
  const body = text.replace(/=+$/, "");
  if (body.length === 0 || body.length % 4 === 1) return null;
  const out = new Uint8Array((body.length * 3) >> 2);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    const v = c < 128 ? B64[c] : -1;
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** UTF-8 to text (throws on invalid UTF-8); pure ASCII without TextDecoder's first-use cost. */
export function utf8Text(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length && ascii; i++) ascii = bytes[i] < 0x80;
  if (!ascii) return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  let out = "";
  for (let i = 0; i < bytes.length; i += 0x2000) {
    out += String.fromCharCode(...bytes.subarray(i, i + 0x2000));
  }
  return out;
}

/** Whether `bytes` start with the gzip magic. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** gunzip capped at {@linkcode MANIFEST_MAX_BYTES}; throws on corrupt data. */
export function gunzipManifest(bytes: Uint8Array): Uint8Array {
  return gunzip(bytes, MANIFEST_MAX_BYTES);
}

/**
 * The usual encoding (base64url of gzip) decoded as JSON text; null for
 * anything else (raw JSON, plain base64, corrupt data), which the full
 * decoder in cmdline.ts handles and names the problem of.
 */
export function fastDecode(value: string): string | null {
  const bytes = base64UrlBytes(value.trim());
  if (bytes === null || !isGzip(bytes)) return null;
  try {
    const text = utf8Text(gunzipManifest(bytes));
    return text.trimStart().startsWith("{") ? text : null;
  } catch (e) {
    // Corrupt or not UTF-8: the full decoder produces the canonical error for it.
    if (e instanceof Error) return null;
    throw e;
  }
}
