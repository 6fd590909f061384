/**
 * The one contract: schemas and codecs shared by volantd, volar, fledge and
 * kestrel. Pure: imports only zod (and the pure error family).
 *
 * @example
 * ```ts
 * import { parseManifest, encodeManifest } from "./mod.ts";
 * const manifest = parseManifest(JSON.parse(text));
 * const arg = `volant.manifest=${await encodeManifest(manifest)}`;
 * ```
 *
 * @module
 */
export * from "./names.ts";
export * from "./plugin.ts";
export * from "./validate.ts";
export * from "./cmdline.ts";
export * from "./run_spec.ts";
