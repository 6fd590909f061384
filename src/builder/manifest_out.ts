/**
 * The Volant plugin manifest fledge writes next to the artifact: Volant's real
 * shape (the Go fledge wrote one Volant could not read), with the artifact's
 * relative file name as its URL (resolved against the manifest's own location
 * by `volar plugins install`) or `<base_url>/<file>` for releases, and its sha256.
 *
 * @module
 */
import type { FledgeConfig } from "../manifest/fledge.ts";
import { parseManifest, type PluginManifest } from "../manifest/mod.ts";

/** Default resources when fledge.toml has no `[resources]`. */
export const DEFAULT_RESOURCES = { cpu_cores: 1, memory_mb: 256 } as const;

/** Inputs for {@linkcode pluginManifest}. */
export interface ManifestInput {
  config: FledgeConfig;
  /** The artifact's file name, e.g. `web-0.1.0.cpio.gz`. */
  artifactFile: string;
  /** Lower-case hex sha256 of the artifact. */
  sha256: string;
  /** Optional URL prefix (a release download URL); the file name is appended. */
  baseUrl?: string;
}

/** The manifest object, in a fixed key order; it passes src/manifest's parseManifest. */
export function pluginManifest(input: ManifestInput): PluginManifest {
  const { config: c, artifactFile, sha256, baseUrl } = input;
  const url = baseUrl === undefined
    ? artifactFile
    : `${baseUrl.replace(/\/+$/, "")}/${artifactFile}`;
  const w = c.workload;
  const manifest: Record<string, unknown> = {
    schema_version: "1.0",
    name: c.plugin.name,
    version: c.plugin.version,
  };
  if (c.plugin.runtime !== undefined) manifest.runtime = c.plugin.runtime;
  manifest.initramfs = { url, checksum: `sha256:${sha256}` };
  manifest.resources = {
    cpu_cores: c.resources?.cpu_cores ?? DEFAULT_RESOURCES.cpu_cores,
    memory_mb: c.resources?.memory_mb ?? DEFAULT_RESOURCES.memory_mb,
  };
  const workload: Record<string, unknown> = {
    type: "http",
    entrypoint: w.entrypoint,
    base_url: w.base_url,
  };
  if (w.env !== undefined) workload.env = sortedRecord(w.env);
  if (w.workdir !== undefined) workload.workdir = w.workdir;
  if (w.user !== undefined) workload.user = w.user;
  if (w.restart !== undefined) workload.restart = w.restart;
  manifest.workload = workload;
  if (c.health_check !== undefined) {
    const h: Record<string, unknown> = { endpoint: c.health_check.endpoint };
    if (c.health_check.timeout_ms !== undefined) h.timeout_ms = c.health_check.timeout_ms;
    manifest.health_check = h;
  }
  if (c.actions !== undefined) {
    manifest.actions = Object.fromEntries(
      Object.keys(c.actions).sort().map((k) => [k, c.actions![k]]),
    );
  }
  if (c.openapi !== undefined) manifest.openapi = c.openapi;
  if (c.labels !== undefined) manifest.labels = sortedRecord(c.labels);
  // Validate exactly what is written, so the file installs unchanged.
  parseManifest(manifest);
  return manifest as PluginManifest;
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(r).sort().map((k) => [k, r[k]]));
}

/** The manifest as written to disk: 2-space JSON plus a final newline. */
export function manifestJson(manifest: PluginManifest): string {
  return JSON.stringify(manifest, null, 2) + "\n";
}
