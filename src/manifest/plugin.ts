/**
 * The Volant plugin manifest v1: the one contract between fledge, volantd,
 * volar and kestrel. Field names follow Volant's manifest (pluginspec v1);
 * where Volant's JSON Schema and its code disagree, the rule chosen is written
 * in docs/manifest.md and tested in plugin_test.ts.
 *
 * Pure: imports only zod.
 *
 * @module
 */
import { z } from "zod";
import { ArtifactUrlSchema, ChecksumSchema, DNS_LABEL, NameSchema } from "./names.ts";
import { RESTART_POLICIES } from "./values.ts";

const nonEmpty = (what = "must not be empty") => z.string().trim().min(1, what);

/** Disk image container format; Volant's docs also wrote the filesystem type here. */
const ImageFormatSchema = z.enum(["raw", "qcow2"], {
  error: 'must be "raw" or "qcow2" (an ext4/erofs/squashfs image file is "raw")',
});

export const ArtifactSchema = z.strictObject({
  url: ArtifactUrlSchema,
  checksum: ChecksumSchema.optional(),
  /** Size in bytes, when known: a download that differs is refused. */
  size: z.int().min(0, "must be a byte count").optional(),
});

export const RootfsSchema = z.strictObject({
  url: ArtifactUrlSchema,
  checksum: ChecksumSchema.optional(),
  /** Size in bytes, when known: a download that differs is refused. */
  size: z.int().min(0, "must be a byte count").optional(),
  format: ImageFormatSchema.optional(),
});

export const DiskSchema = z.strictObject({
  name: NameSchema,
  source: ArtifactUrlSchema,
  checksum: ChecksumSchema.optional(),
  /** Size in bytes, when known: a download that differs is refused. */
  size: z.int().min(0, "must be a byte count").optional(),
  format: ImageFormatSchema.optional(),
  readonly: z.boolean().optional(),
  target: z.string().regex(/^vd[a-z]$/, "must be a virtio disk name such as vdb").optional(),
});

export const ResourcesSchema = z.strictObject({
  cpu_cores: z.int().min(1, "must be at least 1").max(64, "must be at most 64"),
  memory_mb: z.int().min(64, "must be at least 64").max(262144, "must be at most 262144"),
});

export const ActionSchema = z.strictObject({
  description: z.string().optional(),
  method: z.string().regex(/^[A-Za-z]+$/, "must be an HTTP method such as POST"),
  path: z.string().regex(/^\//, "must start with /"),
  timeout_ms: z.int().min(1).max(3_600_000).optional(),
  /**
   * JSON Schema (draft 2020-12 or 7) of the JSON payload; volantd checks
   * payloads against it before anything reaches the guest, and MCP clients
   * get it as the action tool's input schema.
   */
  payload_schema: z.record(z.string(), z.unknown()).optional(),
});

/**
 * The workload's OpenAPI document: a path on the workload (fetched through
 * kestrel, `GET /v1<path>`). Never a host file or a URL the daemon would fetch.
 */
export const OpenApiRefSchema = z.string().regex(
  /^\/[^\s?#]*$/,
  "must be a path on the workload such as /openapi.json (fetched through kestrel)",
);

export const HealthCheckSchema = z.strictObject({
  endpoint: z.string().regex(/^(\/.*)?$/, "must be empty or a path starting with /"),
  timeout_ms: z.int().min(1).max(3_600_000).optional(),
});

/** Restart policy, shared by kestrel (workload) and volantd (VM). */
export const RestartPolicySchema = z.enum(RESTART_POLICIES);
export type RestartPolicy = z.infer<typeof RestartPolicySchema>;

export const WorkloadSchema = z.strictObject({
  type: z.literal("http", { error: 'must be "http" (the only workload type)' }),
  base_url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
  entrypoint: z.array(nonEmpty()).min(1, "must name a program to run"),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "bad env name"), z.string())
    .optional(),
  workdir: z.string().regex(/^\//, "must be an absolute path").optional(),
  /** Volant-TS extension: `uid[:gid]` or a user name from the guest's /etc/passwd. */
  user: z.string().regex(/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/, "must be user[:group]")
    .optional(),
  /** Volant-TS extension: what kestrel does when the workload exits (default on-failure). */
  restart: RestartPolicySchema.optional(),
});

const CloudInitDocSchema = z.strictObject({
  inline: z.boolean().optional(),
  content: z.string().optional(),
  path: z.string().optional(),
}).refine((d) => !(d.content !== undefined && d.path !== undefined), {
  message: "content and path are mutually exclusive",
});

export const CloudInitSchema = z.strictObject({
  datasource: z.literal("NoCloud").optional(),
  seed_mode: z.literal("vfat").optional(),
  user_data: CloudInitDocSchema.optional(),
  meta_data: CloudInitDocSchema.optional(),
  network_config: CloudInitDocSchema.optional(),
});

const IPV4_CIDR =
  /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}(\/([12]?\d|3[0-2]))?$/;

/** One allow-list entry of `network.egress`: a destination network, optionally ports. */
export const EgressRuleSchema = z.strictObject({
  cidr: z.string().regex(IPV4_CIDR, "must be an IPv4 address or CIDR such as 10.0.0.0/8"),
  ports: z.array(z.int().min(1, "must be a port 1-65535").max(65535, "must be a port 1-65535"))
    .min(1).max(64).optional(),
  protocol: z.enum(["tcp", "udp"]).optional(),
});

/** What a guest may open beyond the bridge (default allow-all, through NAT). */
export const EgressSchema = z.union([
  z.enum(["allow-all", "deny-all"]),
  z.strictObject({ allow: z.array(EgressRuleSchema).min(1).max(64) }),
]);

export const NetworkSchema = z.strictObject({
  mode: z.enum(["bridged", "dhcp", "vsock"]),
  subnet: z.string().optional(),
  gateway: z.string().optional(),
  auto_assign: z.boolean().optional(),
  /** Per-VM egress policy, enforced in nftables (bridged mode). */
  egress: EgressSchema.optional(),
  /** true: no frames to or from other guests on the bridge (default false). */
  isolation: z.boolean().optional(),
});

export const DevicesSchema = z.strictObject({
  pci_passthrough: z.array(
    z.string().regex(
      /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/,
      "must be a PCI address DDDD:BB:DD.F",
    ),
  ).optional(),
  allowlist: z.array(
    z.string().regex(/^[0-9a-fA-F]{4}:([0-9a-fA-F]{4}|\*)$/, "must be vvvv:dddd or vvvv:*"),
  ).optional(),
});

/** The plugin manifest as written by authors (before normalisation). */
export const PluginManifestSchema = z.strictObject({
  $schema: z.string().optional(),
  schema_version: z.string().regex(/^1(\.\d+)?$/, 'must be "1.0" (or "1")').optional(),
  name: NameSchema,
  version: nonEmpty().max(64),
  runtime: z.string().regex(DNS_LABEL, "must be a DNS label").optional(),
  enabled: z.boolean().optional(),
  image: z.string().optional(),
  image_digest: z.string().optional(),
  initramfs: ArtifactSchema.optional(),
  rootfs: RootfsSchema.optional(),
  disks: z.array(DiskSchema).optional(),
  resources: ResourcesSchema,
  workload: WorkloadSchema,
  health_check: HealthCheckSchema.optional(),
  actions: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, "bad action name"), ActionSchema)
    .optional(),
  cloud_init: CloudInitSchema.optional(),
  network: NetworkSchema.optional(),
  devices: DevicesSchema.optional(),
  openapi: OpenApiRefSchema.optional(),
  labels: z.record(z.string(), z.string()).optional(),
}).superRefine((m, ctx) => {
  if (!m.initramfs && !m.rootfs) {
    ctx.addIssue({
      code: "custom",
      path: ["initramfs"],
      message: "a plugin needs a boot medium: initramfs, rootfs or both",
    });
  }
  const names = new Set<string>();
  m.disks?.forEach((d, i) => {
    if (names.has(d.name)) {
      ctx.addIssue({ code: "custom", path: ["disks", i, "name"], message: "duplicate disk name" });
    }
    names.add(d.name);
  });
});

export type PluginManifest = z.infer<typeof PluginManifestSchema>;
