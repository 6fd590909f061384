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
import { liteManifest } from "./manifest_lite.ts";

export { base64UrlBytes, fastDecode } from "../src/manifest/manifest_bytes.ts";

const KEY = CMDLINE_KEYS.manifest;

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
    json = await decodeManifestValue(value);
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
