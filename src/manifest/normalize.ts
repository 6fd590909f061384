/**
 * Manifest normalisation, zod-free so kestrel can use it without loading the
 * schemas (agent/manifest_lite.ts); re-exported by validate.ts.
 *
 * @module
 */
import type { PluginManifest } from "./plugin.ts";

/**
 * Normalisation (documented in docs/manifest.md): Volant's empty values mean
 * absent (src/manifest/volant_compat.ts, applied before validation); `schema_version` defaults to
 * "1.0", `runtime` to `name`, `rootfs.format` to raw, `network.mode` to bridged,
 * and the system labels `volant.plugin` / `volant.runtime` are set.
 */
export function normalizeManifest(m: PluginManifest): PluginManifest {
  const runtime = m.runtime ?? m.name;
  const out: PluginManifest = {
    ...m,
    schema_version: m.schema_version ?? "1.0",
    runtime,
    labels: { ...(m.labels ?? {}), "volant.plugin": m.name, "volant.runtime": runtime },
  };
  if (m.rootfs) out.rootfs = { ...m.rootfs, format: m.rootfs.format ?? "raw" };
  return out;
}
