/**
 * The full manifest validator (zod), as its own module so the agent image
 * ships it as a separate bundle (manifest_full.js beside kestrel.js) that
 * kestrel loads only when its lite check cannot decide (manifest_lite.ts).
 *
 * @module
 */
export { parseManifest } from "../src/manifest/validate.ts";
