/**
 * Decodes (with the shared decoder, src/manifest/cmdline.ts) and validates
 * the `volant.manifest` cmdline value. Every failure is
 * one `invalid_input` error whose message is a single line naming the problem
 * (and, for schema errors, every bad field), fit for the console.
 *
 * @module
 */
import { CMDLINE_KEYS, decodeManifestValue } from "../src/manifest/cmdline.ts";
import { parseManifest } from "../src/manifest/validate.ts";
import type { PluginManifest } from "../src/manifest/plugin.ts";
import { isVolantError, VolantError } from "../src/errors.ts";

export { base64UrlBytes, fastDecode } from "../src/manifest/manifest_bytes.ts";

const KEY = CMDLINE_KEYS.manifest;

export async function loadManifest(value: string | undefined): Promise<PluginManifest> {
  if (value === undefined || value.trim() === "") {
    throw new VolantError("invalid_input", `${KEY} is missing from the kernel command line`, {
      problems: [{ field: KEY, message: "is required" }],
    });
  }
  let json: unknown;
  try {
    json = await decodeManifestValue(value);
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
