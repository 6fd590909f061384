/**
 * Decodes and validates the `volant.manifest` cmdline value. Every failure is
 * one `invalid_input` error whose message is a single line naming the problem
 * (and, for schema errors, every bad field), fit for the console.
 *
 * @module
 */
import { CMDLINE_KEYS, decodeManifestValue } from "../src/manifest/cmdline.ts";
import type { PluginManifest } from "../src/manifest/plugin.ts";
import { isVolantError, VolantError } from "../src/errors.ts";
import { gunzip } from "./inflate.ts";
import { liteManifest } from "./manifest_lite.ts";

const KEY = CMDLINE_KEYS.manifest;

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

/** UTF-8 to text; pure ASCII (the common case) without TextDecoder's first-use cost. */
function utf8(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length && ascii; i++) ascii = bytes[i] < 0x80;
  if (!ascii) return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  let out = "";
  for (let i = 0; i < bytes.length; i += 0x2000) {
    out += String.fromCharCode(...bytes.subarray(i, i + 0x2000));
  }
  return out;
}

/**
 * The usual encoding (base64url of gzip) decoded synchronously with the local
 * inflate, as JSON text; null for anything else, which then takes the shared
 * decoder (raw JSON, plain base64, and every error message).
 */
export function fastDecode(value: string): string | null {
  const bytes = base64UrlBytes(value.trim());
  if (bytes === null || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return null;
  try {
    const text = utf8(gunzip(bytes, 1 << 20));
    return text.trimStart().startsWith("{") ? text : null;
  } catch (e) {
    // Corrupt or not UTF-8: the shared decoder produces the canonical error for it.
    if (e instanceof Error) return null;
    throw e;
  }
}

/**
 * The full schema (zod), loaded only when the lite check cannot decide: it
 * words the error, or accepts what the lite check does not know. Beside this
 * module in the source tree, beside kestrel.js (as manifest_full.js) in the
 * agent image; a computed specifier keeps it out of kestrel's bundle.
 */
async function fullValidator(): Promise<(json: unknown) => PluginManifest> {
  const file = import.meta.url.endsWith(".ts") ? "./manifest_full.ts" : "./manifest_full.js";
  const url = new URL(file, import.meta.url).href;
  try {
    return ((await import(url)) as typeof import("./manifest_full.ts")).parseManifest;
  } catch (e) {
    throw new VolantError(
      "invalid_input",
      `${KEY} needs the full validator, which did not load (${url}): ${(e as Error).message}`,
      { cause: e },
    );
  }
}

export async function loadManifest(value: string | undefined): Promise<PluginManifest> {
  if (value === undefined || value.trim() === "") {
    throw new VolantError("invalid_input", `${KEY} is missing from the kernel command line`, {
      problems: [{ field: KEY, message: "is required" }],
    });
  }
  let json: unknown;
  try {
    json = await decodeManifestValue(fastDecode(value) ?? value);
  } catch (e) {
    if (isVolantError(e)) throw e;
    // JSON.parse of raw JSON text throws a SyntaxError.
    throw new VolantError("invalid_input", `${KEY} is not valid JSON: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const lite = liteManifest(json);
  if (lite) return lite;
  const parseManifest = await fullValidator();
  try {
    return parseManifest(json);
  } catch (e) {
    if (!isVolantError(e, "invalid_input")) throw e;
    const fields = e.problems.map((p) => `${p.field}: ${p.message}`).join("; ");
    throw new VolantError("invalid_input", `${KEY} is not a valid manifest: ${fields}`, {
      problems: e.problems,
      cause: e,
    });
  }
}
