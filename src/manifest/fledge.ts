/**
 * fledge.toml v1: the build recipe of a plugin appliance. Compatible with the Go
 * fledge's v1 file where that makes sense (`version`, `strategy`, `[agent]`,
 * `[init]`, `[source]`, `[mappings]`), plus the tables the Volant manifest needs
 * (`[plugin]`, `[resources]`, `[workload]`, `[health_check]`). Every table is
 * strict: an unknown key is an error naming it (the Go fledge ignored them).
 * docs/fledge.md documents every key.
 *
 * Pure: imports only zod and src/manifest.
 *
 * @module
 */
import { z } from "zod";
import { VolantError } from "../errors.ts";
import { ChecksumSchema, DNS_LABEL, NameSchema } from "./names.ts";
import {
  ActionSchema,
  HealthCheckSchema,
  OpenApiRefSchema,
  ResourcesSchema,
  RestartPolicySchema,
  WorkloadSchema,
} from "./plugin.ts";
import { problemsFromZod } from "./validate.ts";

/** An absolute guest path without `.`/`..`/empty segments: `/usr/bin/caddy`, or `/`. */
export const GuestPathSchema = z.string().refine(
  (p) => p === "/" || (/^\/[^\0]*[^/]$/.test(p) && p.slice(1).split("/").every(isPlainSegment)),
  "must be an absolute guest path such as /usr/bin/app (no '.', '..' or empty segments)",
);

function isPlainSegment(s: string): boolean {
  return s.length > 0 && s !== "." && s !== "..";
}

/** Octal permission string, 3 or 4 digits: "755", "0644", "4755". */
export const ModeStringSchema = z.string({
  error: 'must be a string of octal digits such as "0755" (a TOML integer is ambiguous)',
}).regex(/^[0-7]{3,4}$/, 'must be 3 or 4 octal digits such as "0755"');

/** The numeric permission bits of a mode string. */
export function parseModeString(mode: string): number {
  return Number.parseInt(mode, 8);
}

/** A plugin version that is also safe inside a file name (`<name>-<version>.cpio.gz`). */
export const PluginVersionSchema = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/,
  "must be 1-64 letters, digits, '.', '_', '+' or '-' (it becomes part of the file name)",
);

const HttpUrlSchema = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

/** One mapping's target: a guest path string, or a table with the path and a mode override. */
export const MappingTargetSchema = z.preprocess(
  (v) => (typeof v === "string" ? { to: v } : v),
  z.strictObject({
    to: GuestPathSchema,
    mode: ModeStringSchema.optional(),
  }, { error: 'must be a guest path or a table { to = "/path", mode = "0755" }' }),
);

export const PluginTableSchema = z.strictObject({
  name: NameSchema,
  version: PluginVersionSchema,
  runtime: z.string().regex(DNS_LABEL, "must be a DNS label").optional(),
});

export const AgentTableSchema = z.strictObject({
  source_strategy: z.enum(["local", "http", "release"], {
    error: 'must be "local" or "http"',
  }),
  path: z.string().min(1, "must not be empty").optional(),
  url: HttpUrlSchema.optional(),
  checksum: ChecksumSchema.optional(),
  /** Go fledge's release tag; accepted only so the refusal can name the strategy. */
  version: z.string().optional(),
});

export const InitTableSchema = z.strictObject({
  /** In-image path of a custom init the shim execs instead of kestrel. */
  path: GuestPathSchema.optional(),
  /** No shim: the image's own `/init` (from a mapping) is PID 1. */
  none: z.boolean().optional(),
});

export const SourceTableSchema = z.strictObject({
  busybox_url: HttpUrlSchema.optional(),
  busybox_sha256: ChecksumSchema.optional(),
  busybox_path: z.string().min(1, "must not be empty").optional(),
  // The Go file's oci_rootfs inputs: recognised, answered with not_implemented by the builder.
  image: z.string().min(1).optional(),
  dockerfile: z.string().min(1).optional(),
  context: z.string().min(1).optional(),
  target: z.string().min(1).optional(),
  build_args: z.record(z.string(), z.string()).optional(),
});

/** Go fledge's oci_rootfs `[filesystem]` table, recognised for that strategy only. */
export const FilesystemTableSchema = z.strictObject({
  type: z.enum(["squashfs", "ext4", "xfs", "btrfs"]).optional(),
  compression_level: z.int().min(0).max(22).optional(),
  overlay_size: z.string().optional(),
  size_buffer_mb: z.int().min(0).optional(),
  preallocate: z.boolean().optional(),
});

export const OutputTableSchema = z.strictObject({
  /** gzip (default, level 9), zstd (needs CONFIG_RD_ZSTD in the guest kernel) or none. */
  compression: z.enum(["gzip", "zstd", "none"]).optional(),
});

export const FledgeWorkloadSchema = z.strictObject({
  type: WorkloadSchema.shape.type.optional(),
  entrypoint: WorkloadSchema.shape.entrypoint,
  base_url: WorkloadSchema.shape.base_url,
  env: WorkloadSchema.shape.env,
  workdir: WorkloadSchema.shape.workdir,
  user: WorkloadSchema.shape.user,
  restart: RestartPolicySchema.optional(),
});

export const FledgeConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  version: z.literal("1", { error: 'must be "1" (a string)' }),
  strategy: z.enum(["initramfs", "oci_rootfs"], {
    error: 'must be "initramfs" or "oci_rootfs"',
  }),
  plugin: PluginTableSchema,
  resources: ResourcesSchema.optional(),
  workload: FledgeWorkloadSchema,
  health_check: HealthCheckSchema.optional(),
  actions: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, "bad action name"), ActionSchema)
    .optional(),
  /** The workload's OpenAPI document, a path on the workload (copied into the manifest). */
  openapi: OpenApiRefSchema.optional(),
  labels: z.record(z.string(), z.string()).optional(),
  agent: AgentTableSchema.optional(),
  init: InitTableSchema.optional(),
  source: SourceTableSchema.optional(),
  filesystem: FilesystemTableSchema.optional(),
  mappings: z.record(z.string().min(1, "a mapping source must not be empty"), MappingTargetSchema)
    .optional(),
  output: OutputTableSchema.optional(),
}).superRefine((c, ctx) => {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: "custom", path, message });
  const a = c.agent;
  if (a?.source_strategy === "release") {
    issue(
      ["agent", "source_strategy"],
      '"release" is not supported: there are no kestrel releases to verify against; ' +
        'use "local" (path) or "http" (url + checksum)',
    );
  }
  if (a?.source_strategy === "local") {
    if (a.path === undefined) issue(["agent", "path"], 'is required for source_strategy "local"');
    for (const k of ["url", "checksum", "version"] as const) {
      if (a[k] !== undefined) issue(["agent", k], 'is not used by source_strategy "local"');
    }
  }
  if (a?.source_strategy === "http") {
    if (a.url === undefined) issue(["agent", "url"], 'is required for source_strategy "http"');
    if (a.checksum === undefined) {
      issue(["agent", "checksum"], 'is required for source_strategy "http" (sha256:<hex>)');
    }
    for (const k of ["path", "version"] as const) {
      if (a[k] !== undefined) issue(["agent", k], 'is not used by source_strategy "http"');
    }
  }
  if (c.init?.path !== undefined && c.init.none === true) {
    issue(["init", "none"], "cannot be combined with init.path");
  }
  if (c.init?.path === "/") issue(["init", "path"], "must name a program, not /");
  const s = c.source;
  if (s?.busybox_url !== undefined && s.busybox_path !== undefined) {
    issue(["source", "busybox_path"], "cannot be combined with source.busybox_url");
  }
  if ((s?.busybox_url === undefined) !== (s?.busybox_sha256 === undefined)) {
    issue(
      s?.busybox_url === undefined ? ["source", "busybox_url"] : ["source", "busybox_sha256"],
      "source.busybox_url and source.busybox_sha256 go together (both or neither)",
    );
  }
  if (c.strategy === "initramfs" && c.filesystem !== undefined) {
    issue(["filesystem"], 'is only used by strategy "oci_rootfs"');
  }
});

export type FledgeConfig = z.infer<typeof FledgeConfigSchema>;
export type MappingTarget = z.infer<typeof MappingTargetSchema>;

/**
 * Validates a decoded fledge.toml, or throws `invalid_input` with one problem per
 * field (unknown keys included).
 */
export function parseFledgeConfig(input: unknown): FledgeConfig {
  // reportInput: problemsFromZod tells "missing" from "wrong type" by the issue's input.
  const result = FledgeConfigSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const problems = problemsFromZod(result.error).map((p) =>
    p.message.startsWith("unknown key") ? { ...p, message: "unknown key" } : p
  );
  const summary = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
  throw new VolantError("invalid_input", `invalid fledge.toml: ${summary}`, { problems });
}

/** How the image starts, from `[init]`. */
export type InitMode =
  | { kind: "shim" }
  | { kind: "custom"; path: string }
  | { kind: "none" };

/** The init mode of a validated config. */
export function initModeOf(c: FledgeConfig): InitMode {
  if (c.init?.none === true) return { kind: "none" };
  if (c.init?.path !== undefined) return { kind: "custom", path: c.init.path };
  return { kind: "shim" };
}
