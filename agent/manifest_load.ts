/**
 * Decodes and validates the `volant.manifest` cmdline value. Every failure is
 * one `invalid_input` error whose message is a single line naming the problem
 * (and, for schema errors, every bad field), fit for the console.
 *
 * @module
 */
import { CMDLINE_KEYS, decodeManifestValue } from "../src/manifest/cmdline.ts";
import { parseManifest } from "../src/manifest/validate.ts";
import type { PluginManifest } from "../src/manifest/plugin.ts";
import { isVolantError, VolantError } from "../src/errors.ts";
import { gunzip } from "./inflate.ts";

const KEY = CMDLINE_KEYS.manifest;

/**
 * The usual encoding (base64url of gzip) decoded synchronously with the local
 * inflate, as JSON text; null for anything else, which then takes the shared
 * decoder (raw JSON, plain base64, and every error message).
 */
export function fastDecode(value: string): string | null {
  const std = value.trim().replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  if (std.startsWith("{") || !/^[A-Za-z0-9+/]+$/.test(std) || std.length % 4 === 1) return null;
  const bin = atob(std + "=".repeat((4 - (std.length % 4)) % 4));
  if (bin.charCodeAt(0) !== 0x1f || bin.charCodeAt(1) !== 0x8b) return null;
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(gunzip(bytes, 1 << 20));
    return text.trimStart().startsWith("{") ? text : null;
  } catch (e) {
    // Corrupt or not UTF-8: the shared decoder produces the canonical error for it.
    if (e instanceof Error) return null;
    throw e;
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
