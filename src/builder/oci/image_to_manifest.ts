/**
 * Image config -> Volant plugin manifest, as the image would run under a
 * container runtime: Entrypoint + Cmd -> `workload.entrypoint`, Env ->
 * `workload.env`, WorkingDir -> `workdir`, User -> `user`, the lowest exposed
 * TCP port -> `base_url` (`http://127.0.0.1:<port>`) and a default health check
 * (`GET /`), Labels -> `labels`. Every field can be overridden (fledge.toml
 * tables, or `--name`/`--port` from the daemon). Pure.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import { parseManifest, type PluginManifest } from "../../manifest/mod.ts";
import type { ImageConfig } from "./image_manifest.ts";

/** The port kestrel's own API uses in the guest: a workload cannot have it. */
export const KESTREL_PORT = 8080;

/** Values that win over what the image says (all optional). */
export interface ManifestOverrides {
  name?: string;
  version?: string;
  runtime?: string;
  resources?: { cpu_cores: number; memory_mb: number };
  workload?: {
    entrypoint?: string[];
    base_url?: string;
    env?: Record<string, string>;
    workdir?: string;
    user?: string;
    restart?: "never" | "on-failure" | "always";
  };
  /** The workload's port (`--port`), when no base_url is given. */
  port?: number;
  health_check?: { endpoint: string; timeout_ms?: number };
  actions?: Record<
    string,
    { method: string; path: string; description?: string; timeout_ms?: number }
  >;
  labels?: Record<string, string>;
}

/** Facts about the image the manifest records. */
export interface ImageFacts {
  /** The reference as given. */
  reference: string;
  /** The manifest digest. */
  digest: string;
  /** Repository's last path component and tag, for default name/version. */
  repository: string;
  tag?: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function problem(field: string, message: string): VolantError {
  return new VolantError("invalid_input", `${field}: ${message}`, {
    problems: [{ field, message }],
  });
}

/** The lowest exposed TCP port, if any. */
export function exposedPort(config: ImageConfig): number | undefined {
  const ports = Object.keys(config.config?.ExposedPorts ?? {})
    .map((k) => /^(\d+)(?:\/tcp)?$/.exec(k))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .filter((p) => p > 0 && p < 65536)
    .sort((a, b) => a - b);
  return ports.find((p) => p !== KESTREL_PORT) ?? ports[0];
}

/** A DNS label from a repository name (`library/nginx` -> `nginx`). */
export function defaultName(repository: string): string {
  const last = repository.split("/").pop() ?? "image";
  const label = last.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "")
    .slice(0, 63);
  return label || "image";
}

/** The image's environment as a record; entries with names Volant cannot carry are dropped. */
export function imageEnv(config: ImageConfig): { env: Record<string, string>; dropped: string[] } {
  const env: Record<string, string> = {};
  const dropped: string[] = [];
  for (const kv of config.config?.Env ?? []) {
    const i = kv.indexOf("=");
    const k = i < 0 ? kv : kv.slice(0, i);
    if (!ENV_NAME.test(k)) dropped.push(k);
    else env[k] = i < 0 ? "" : kv.slice(i + 1);
  }
  return { env, dropped };
}

function sorted<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(r).sort().map((k) => [k, r[k]]));
}

/** Builds and validates the manifest for a rootfs artifact. */
export function manifestFromImage(input: {
  config: ImageConfig;
  image: ImageFacts;
  rootfs: { url: string; sha256: string };
  overrides?: ManifestOverrides;
}): PluginManifest {
  const { config, image, rootfs } = input;
  const o = input.overrides ?? {};
  const c = config.config ?? {};
  const entrypoint = o.workload?.entrypoint ?? [...(c.Entrypoint ?? []), ...(c.Cmd ?? [])];
  if (entrypoint.length === 0) {
    throw problem(
      "workload.entrypoint",
      "the image has no Entrypoint or Cmd: set workload.entrypoint",
    );
  }
  let baseUrl = o.workload?.base_url;
  if (baseUrl === undefined) {
    const port = o.port ?? exposedPort(config);
    if (port === undefined) {
      throw problem(
        "workload.base_url",
        "the image exposes no TCP port: set workload.base_url (or --port)",
      );
    }
    if (port === KESTREL_PORT) {
      throw problem(
        "workload.base_url",
        `the workload's port ${port} is kestrel's API port in the guest: configure the image to listen elsewhere and set --port`,
      );
    }
    baseUrl = `http://127.0.0.1:${port}`;
  }
  const { env } = imageEnv(config);
  const workload: Record<string, unknown> = { type: "http", entrypoint, base_url: baseUrl };
  const mergedEnv = { ...env, ...(o.workload?.env ?? {}) };
  if (Object.keys(mergedEnv).length > 0) workload.env = sorted(mergedEnv);
  const workdir = o.workload?.workdir ?? (c.WorkingDir?.startsWith("/") ? c.WorkingDir : undefined);
  if (workdir !== undefined) workload.workdir = workdir;
  const user = o.workload?.user ?? (c.User ? c.User : undefined);
  if (user !== undefined) workload.user = user;
  if (o.workload?.restart !== undefined) workload.restart = o.workload.restart;
  const manifest: Record<string, unknown> = {
    schema_version: "1.0",
    name: o.name ?? defaultName(image.repository),
    version: o.version ??
      (image.tag && /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(image.tag)
        ? image.tag
        : `sha256-${image.digest.slice(7, 19)}`),
  };
  if (o.runtime !== undefined) manifest.runtime = o.runtime;
  manifest.image = image.reference;
  manifest.image_digest = image.digest;
  manifest.rootfs = { url: rootfs.url, checksum: `sha256:${rootfs.sha256}`, format: "raw" };
  manifest.resources = o.resources ?? { cpu_cores: 1, memory_mb: 512 };
  manifest.workload = workload;
  manifest.health_check = o.health_check ?? { endpoint: "/", timeout_ms: 10000 };
  if (o.actions !== undefined) manifest.actions = sorted(o.actions);
  const labels = { ...(c.Labels ?? {}), ...(o.labels ?? {}) };
  if (Object.keys(labels).length > 0) manifest.labels = sorted(labels);
  return parseManifest(manifest);
}
