/**
 * fledge.toml for `strategy = "oci_rootfs"`: an OCI image becomes the plugin's
 * root filesystem. Volant's own example (`oci-plugin-example`) is valid as it
 * is: `[source] image` is the only required input; `[plugin]` defaults to the
 * image's name and tag, `[workload]` to the image config (Entrypoint + Cmd,
 * Env, WorkingDir, User, the exposed port), and every key given wins over the
 * image. `[agent]` is accepted and ignored: rootfs plugins run the shared
 * agent image's kestrel. Strict like the initramfs schema: unknown keys are
 * errors. docs/fledge.md documents every key.
 *
 * Pure: imports only zod and src/manifest.
 *
 * @module
 */
import { z } from "zod";
import { VolantError } from "../errors.ts";
import { DNS_LABEL, NameSchema } from "./names.ts";
import {
  ActionSchema,
  HealthCheckSchema,
  ResourcesSchema,
  RestartPolicySchema,
  WorkloadSchema,
} from "./plugin.ts";
import { AgentTableSchema, MappingTargetSchema, PluginVersionSchema } from "./fledge.ts";
import { problemsFromZod } from "./validate.ts";

export const OciPluginTableSchema = z.strictObject({
  name: NameSchema.optional(),
  version: PluginVersionSchema.optional(),
  runtime: z.string().regex(DNS_LABEL, "must be a DNS label").optional(),
});

export const OciSourceTableSchema = z.strictObject({
  /** `[registry/]repo[:tag][@sha256:...]`, `oci:DIR[:tag]` or `docker-archive:FILE`. */
  image: z.string().min(1, "must name an image"),
  /** Registry credentials are never in the file: --registry-auth, env or ~/.docker/config.json. */
  platform: z.string().regex(
    /^[a-z0-9_.-]+\/[a-z0-9_.-]+(\/[a-z0-9_.-]+)?$/,
    "must be os/arch[/variant]",
  )
    .optional(),
  dockerfile: z.string().min(1).optional(),
  context: z.string().min(1).optional(),
  target: z.string().min(1).optional(),
  build_args: z.record(z.string(), z.string()).optional(),
});

export const OciFilesystemTableSchema = z.strictObject({
  /** ext4 (default; read-write under the per-VM overlay) or erofs (read-only, compressed). */
  type: z.enum(["ext4", "erofs", "squashfs", "xfs", "btrfs"]).optional(),
  compression_level: z.int().min(0).max(22).optional(),
  overlay_size: z.string().optional(),
  size_buffer_mb: z.int().min(0, "must be >= 0").max(1 << 20).optional(),
  preallocate: z.boolean().optional(),
});

export const OciWorkloadTableSchema = z.strictObject({
  type: WorkloadSchema.shape.type.optional(),
  entrypoint: WorkloadSchema.shape.entrypoint.optional(),
  base_url: WorkloadSchema.shape.base_url.optional(),
  env: WorkloadSchema.shape.env,
  workdir: WorkloadSchema.shape.workdir,
  user: WorkloadSchema.shape.user,
  restart: RestartPolicySchema.optional(),
});

export const FledgeOciConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  version: z.literal("1", { error: 'must be "1" (a string)' }),
  strategy: z.literal("oci_rootfs"),
  plugin: OciPluginTableSchema.optional(),
  resources: ResourcesSchema.optional(),
  workload: OciWorkloadTableSchema.optional(),
  health_check: HealthCheckSchema.optional(),
  actions: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, "bad action name"), ActionSchema)
    .optional(),
  labels: z.record(z.string(), z.string()).optional(),
  // Go fledge copied kestrel into the rootfs; here the shared agent image carries it.
  agent: z.union([AgentTableSchema, z.record(z.string(), z.unknown())]).optional(),
  source: OciSourceTableSchema,
  filesystem: OciFilesystemTableSchema.optional(),
  /** Host files put over the image (same rules as for initramfs). */
  mappings: z.record(z.string().min(1, "a mapping source must not be empty"), MappingTargetSchema)
    .optional(),
});

export type FledgeOciConfig = z.infer<typeof FledgeOciConfigSchema>;

/** Validates a decoded oci_rootfs fledge.toml, or throws `invalid_input` naming each field. */
export function parseFledgeOciConfig(input: unknown): FledgeOciConfig {
  const result = FledgeOciConfigSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const problems = problemsFromZod(result.error).map((p) =>
    p.message.startsWith("unknown key") ? { ...p, message: "unknown key" } : p
  );
  const summary = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
  throw new VolantError("invalid_input", `invalid fledge.toml: ${summary}`, { problems });
}
