/**
 * API contract: request bodies, query strings, records and events exchanged
 * between volantd, volar and scripts. The API validates requests with these
 * schemas, the client parses responses with them, and the OpenAPI document is
 * generated from them. Pure: imports only zod and sibling schemas.
 *
 * Timestamps are RFC 3339 strings in UTC (`new Date().toISOString()`).
 *
 * @module
 */
import { z } from "zod";
import { NameSchema } from "./names.ts";
import { MACHINES, VM_SORT_KEYS, VM_STATES } from "./values.ts";
import { PluginSignatureSchema } from "./signing.ts";
import {
  CloudInitSchema,
  NetworkSchema,
  PluginManifestSchema,
  ResourcesSchema,
  RestartPolicySchema,
} from "./plugin.ts";

/** How deep a free-form JSON value may nest: far beyond any real use, far below a stack overflow. */
export const MAX_JSON_DEPTH = 32;

/** Nesting depth of a JSON value, walked without recursion (a hostile value can be very deep). */
export function jsonDepth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (d > max) max = d;
    if (max > MAX_JSON_DEPTH) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** A free-form JSON object (metadata, a manifest before its own validation), depth-bounded. */
const JsonObject = z.record(z.string(), z.unknown()).superRefine((v, ctx) => {
  if (jsonDepth(v) > MAX_JSON_DEPTH) {
    ctx.addIssue({ code: "custom", message: `must not nest deeper than ${MAX_JSON_DEPTH} levels` });
  }
});

const Timestamp = z.string().describe("RFC 3339 timestamp, UTC");
const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits");

// ---------------------------------------------------------------- problems

/** One field problem inside a problem+json body. */
export const FieldProblemSchema = z.object({ field: z.string(), message: z.string() });

/** RFC 9457 problem details, plus Volant's `code` and per-field `problems`. */
export const ProblemSchema = z.looseObject({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  code: z.string(),
  problems: z.array(FieldProblemSchema).optional(),
});
export type Problem = z.infer<typeof ProblemSchema>;

// ---------------------------------------------------------------- plugins

/** What an artifact is used for. */
export const ArtifactKindSchema = z.enum(["initramfs", "rootfs", "disk", "kernel"]);
export type ArtifactKind = z.infer<typeof ArtifactKindSchema>;

/** One downloaded, content-addressed artifact of an installed plugin. */
export const ArtifactRecordSchema = z.object({
  kind: ArtifactKindSchema,
  /** `initramfs`, `rootfs`, or the manifest disk's name. */
  name: z.string(),
  /** The resolved source URL it was fetched from. */
  url: z.string(),
  /** The digest of the stored bytes (always computed while downloading). */
  sha256: Sha256Hex,
  /** False when the manifest declared no checksum (installed with allow_unverified). */
  verified: z.boolean(),
  size: z.int().min(0),
  /** `<state>/artifacts/sha256/<hex>`. */
  path: z.string(),
});
export type ArtifactRecord = z.infer<typeof ArtifactRecordSchema>;

export const PluginRecordSchema = z.object({
  name: NameSchema,
  version: z.string(),
  runtime: z.string(),
  enabled: z.boolean(),
  /** True when installed with artifacts lacking a checksum. */
  allow_unverified: z.boolean(),
  /** Where it was installed from: `body`, a file path or a URL. */
  source: z.string(),
  manifest: PluginManifestSchema,
  artifacts: z.array(ArtifactRecordSchema),
  /** The verified minisign signature of the manifest; null when installed unsigned. */
  signature: PluginSignatureSchema.nullable().optional(),
  /**
   * How its VMs boot, found by looking inside the initramfs: `volant-ts` (ours:
   * shim + agent image, volant.ip) or `volant` (Volant's fledge: own /init and
   * /bin/kestrel, kernel ip=, rootfs at vda, no agent disk). docs/manifest.md.
   */
  boot_contract: z.object({
    contract: z.enum(["volant-ts", "volant"]),
    reason: z.string(),
  }).optional(),
  installed_at: Timestamp,
  updated_at: Timestamp,
});
export type PluginRecord = z.infer<typeof PluginRecordSchema>;

export const PluginListSchema = z.object({ items: z.array(PluginRecordSchema) });
export type PluginList = z.infer<typeof PluginListSchema>;

/**
 * POST /api/v1/plugins. Exactly one of `manifest` (the manifest object; its
 * artifacts must be http(s) URLs), `url` (http(s):// or file:// URL of a
 * manifest file) or `path` (absolute host path of a manifest file).
 */
export const InstallPluginBodySchema = z.strictObject({
  /** The manifest object, or its exact text (needed to verify a `signature` sent along). */
  manifest: z.union([JsonObject, z.string().max(1 << 20)]).optional(),
  url: z.string().regex(/^(https?|file):\/\/\S+$/, "must be an http(s):// or file:// URL")
    .refine((v) => URL.canParse(v), "is not a valid URL (check the host, the port and escapes)")
    .optional(),
  path: z.string().regex(/^\/\S*$/, "must be an absolute path").optional(),
  /** An OCI image to convert into a rootfs plugin (docs/oci.md). */
  image: z.string().regex(/^\S{1,512}$/, "must be an image reference such as nginx:1.25")
    .optional(),
  /** With `image`: the plugin name (default: from the repository). */
  name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be a DNS label").optional(),
  /** With `image`: the workload's port (default: the image's lowest exposed TCP port). */
  port: z.int().min(1).max(65535).optional(),
  /** With `image`: `os/arch[/variant]` to pick from an index (default linux/amd64). */
  platform: z.string().regex(/^[a-z0-9_.-]+\/[a-z0-9_.-]+(\/[a-z0-9_.-]+)?$/, "must be os/arch")
    .optional(),
  /** With `image`: speak plain HTTP to its registry. */
  insecure_registry: z.boolean().optional(),
  allow_unverified: z.boolean().default(false),
  /** The manifest's minisign signature (`.minisig` text); default `<url or path>.minisig`. */
  signature: z.string().max(16384, "must be at most 16384 characters").optional(),
  /** Where to fetch the signature instead (http(s):// or file:// URL). */
  signature_url: z.string().regex(/^(https?|file):\/\/\S+$/, "must be an http(s):// or file:// URL")
    .optional(),
}).superRefine((b, ctx) => {
  const given = (["manifest", "url", "path", "image"] as const).filter((k) => b[k] !== undefined);
  if (given.length !== 1) {
    ctx.addIssue({
      code: "custom",
      path: [given[1] ?? "manifest"],
      message: given.length === 0
        ? "give exactly one of manifest, url, path or image"
        : `give exactly one of manifest, url, path or image (got ${given.join(", ")})`,
    });
  }
  if (b.image === undefined) {
    for (const k of ["name", "port", "platform", "insecure_registry"] as const) {
      if (b[k] !== undefined) {
        ctx.addIssue({ code: "custom", path: [k], message: "only with image" });
      }
    }
  }
});
export type InstallPluginBody = z.infer<typeof InstallPluginBodySchema>;

/** POST /api/v1/plugins/{name}/enabled. */
export const PluginEnabledBodySchema = z.strictObject({ enabled: z.boolean() });
export type PluginEnabledBody = z.infer<typeof PluginEnabledBodySchema>;

/** Result of an install: `installed` (new), `updated` (new version) or `unchanged` (same version). */
export const PluginInstallResultSchema = z.object({
  outcome: z.enum(["installed", "updated", "unchanged"]),
  plugin: PluginRecordSchema,
  /** Manifest fields kept only for compatibility (accepted, without effect), each named. */
  warnings: z.array(FieldProblemSchema).optional(),
});
export type PluginInstallResult = z.infer<typeof PluginInstallResultSchema>;

/** DELETE /api/v1/plugins/{name}?force=true. */
export const PluginRemoveQuerySchema = z.object({
  force: z.enum(["true", "false", "1", "0"]).optional(),
});

// ---------------------------------------------------------------- VMs

export { VM_SORT_KEYS, VM_STATES };
export const VmStateSchema = z.enum(VM_STATES);
export type VmState = z.infer<typeof VmStateSchema>;

export const MachineSchema = z.enum(MACHINES);
export const VmHealthSchema = z.enum(["unknown", "starting", "healthy", "unhealthy"]);
export type VmHealth = z.infer<typeof VmHealthSchema>;

export const VmRecordSchema = z.object({
  id: z.int(),
  name: NameSchema,
  state: VmStateSchema,
  plugin: z.string(),
  runtime: z.string(),
  /** Guest IPv4 address (no prefix). */
  ip: z.string(),
  mac: z.string(),
  cpu_cores: z.int(),
  memory_mb: z.int(),
  /** The same two numbers grouped, as Volant's documents show the answer to POST /api/v1/vms. */
  resources: z.object({ cpu_cores: z.int(), memory_mb: z.int() }),
  /** VMM pid while starting/running/stopping. */
  pid: z.int().optional(),
  tap: z.string(),
  machine: MachineSchema,
  restart_policy: RestartPolicySchema,
  health: VmHealthSchema,
  /** User extra kernel arguments (not the assembled command line). */
  kernel_cmdline: z.string(),
  serial_socket: z.string().optional(),
  /** Automatic restarts done by the restart policy since the last explicit start. */
  restarts: z.int(),
  /** Why the VM last failed or crashed, if it did. */
  last_error: z.string().optional(),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type VmRecord = z.infer<typeof VmRecordSchema>;

/** POST /api/v1/vms. Omitted resources default to the manifest's `resources`. */
export const CreateVmBodySchema = z.strictObject({
  name: NameSchema,
  plugin: NameSchema,
  cpu_cores: ResourcesSchema.shape.cpu_cores.optional(),
  memory_mb: ResourcesSchema.shape.memory_mb.optional(),
  /** Extra kernel arguments appended after Volant's own. */
  kernel_cmdline: z.string().max(1024, "must be at most 1024 characters")
    .regex(/^[^"\n\0]*$/, "must not contain quotes or newlines").optional(),
  machine: MachineSchema.optional(),
  restart_policy: RestartPolicySchema.optional(),
  /** Boot right away (default true); false leaves the VM `created`. */
  start: z.boolean().default(true),
  /** Scale to zero: snapshot and stop after this many idle seconds; the next request restores. */
  idle_timeout_s: z.int().min(1).max(86_400).optional(),
  /** This VM's cloud-init documents; each one given replaces the manifest's (NoCloud seed). */
  cloud_init: CloudInitSchema.optional(),
});
export type CreateVmBody = z.input<typeof CreateVmBodySchema>;

const stateList = new RegExp(`^(${VM_STATES.join("|")})(,(${VM_STATES.join("|")}))*$`);

/** GET /api/v1/vms query string. `state` is a comma-separated list. */
export const VmListQuerySchema = z.object({
  state: z.string().regex(stateList, `must be a comma-separated list of ${VM_STATES.join("|")}`)
    .optional(),
  plugin: NameSchema.optional(),
  /** Case-insensitive substring of name, ip or plugin. */
  q: z.string().max(128).optional(),
  limit: z.coerce.number().int("must be an integer").min(1).max(1000).default(100),
  offset: z.coerce.number().int("must be an integer").min(0).default(0),
  sort: z.enum(VM_SORT_KEYS).default("created_at"),
  order: z.enum(["asc", "desc"]).default("asc"),
});
export type VmListQuery = z.output<typeof VmListQuerySchema>;

export const VmListSchema = z.object({
  items: z.array(VmRecordSchema),
  /** Matches after filtering, before pagination (also sent as X-Total-Count). */
  total: z.int(),
  limit: z.int(),
  offset: z.int(),
});
export type VmList = z.infer<typeof VmListSchema>;

/** DELETE /api/v1/vms/{name} and stop: grace period before the VMM is killed. */
export const VmStopQuerySchema = z.object({
  grace_ms: z.coerce.number().int().min(0).max(600_000).optional(),
});

// ---------------------------------------------------------------- VM config

export const ExposeSchema = z.strictObject({
  name: z.string().optional(),
  protocol: z.enum(["tcp", "udp"]).default("tcp"),
  port: z.int().min(1).max(65535),
  host_port: z.int().min(1).max(65535),
});

/**
 * The VM's desired configuration (reference §3.8, fixed): `network` is
 * honoured, `manifest` is re-validated, no host-path kernel override.
 */
export const VmConfigSchema = z.strictObject({
  plugin: NameSchema,
  runtime: z.string(),
  kernel_cmdline: z.string(),
  resources: ResourcesSchema,
  machine: MachineSchema,
  restart_policy: RestartPolicySchema,
  manifest: PluginManifestSchema,
  network: NetworkSchema.optional(),
  cloud_init: CloudInitSchema.optional(),
  expose: z.array(ExposeSchema).optional(),
  metadata: JsonObject.optional(),
  /** Scale to zero after this many seconds without a request through the agent proxy. */
  idle_timeout_s: z.int().min(1).max(86_400).optional(),
});
export type VmConfig = z.infer<typeof VmConfigSchema>;

/**
 * PATCH /api/v1/vms/{name}/config: every field optional; `resources` merges
 * per field; `metadata: null` clears; others replace. `plugin` cannot change.
 */
export const VmConfigPatchSchema = z.strictObject({
  runtime: z.string().trim().min(1).optional(),
  kernel_cmdline: z.string().max(1024).regex(/^[^"\n\0]*$/, "must not contain quotes or newlines")
    .optional(),
  resources: ResourcesSchema.partial().optional(),
  machine: MachineSchema.optional(),
  restart_policy: RestartPolicySchema.optional(),
  manifest: JsonObject.optional(),
  network: NetworkSchema.nullable().optional(),
  cloud_init: CloudInitSchema.nullable().optional(),
  expose: z.array(ExposeSchema).optional(),
  metadata: JsonObject.nullable().optional(),
  /** null turns scale to zero off. */
  idle_timeout_s: z.int().min(1).max(86_400).nullable().optional(),
});
export type VmConfigPatch = z.infer<typeof VmConfigPatchSchema>;

export const VersionedVmConfigSchema = z.object({
  version: z.int().min(1),
  updated_at: Timestamp,
  config: VmConfigSchema,
});
export type VersionedVmConfig = z.infer<typeof VersionedVmConfigSchema>;

export const VmConfigHistoryEntrySchema = z.object({
  id: z.int(),
  version: z.int().min(1),
  updated_at: Timestamp,
  config: VmConfigSchema,
});
export type VmConfigHistoryEntry = z.infer<typeof VmConfigHistoryEntrySchema>;

export const VmConfigHistorySchema = z.object({ items: z.array(VmConfigHistoryEntrySchema) });
export type VmConfigHistory = z.infer<typeof VmConfigHistorySchema>;

/** GET .../config/history?limit=N (newest first; absent = all). */
export const VmConfigHistoryQuerySchema = z.object({
  limit: z.coerce.number().int("must be an integer").min(1).max(10_000).optional(),
});

// ---------------------------------------------------------------- events

export const EVENT_TYPES = [
  "plugin.installed",
  "plugin.updated",
  "plugin.enabled",
  "plugin.disabled",
  "plugin.removed",
  "plugin.download",
  "key.added",
  "key.removed",
  "vm.created",
  "vm.starting",
  "vm.started",
  "vm.running",
  "vm.healthy",
  "vm.unhealthy",
  "vm.workload_started",
  "vm.agent_joined",
  "vm.stopping",
  "vm.stopped",
  "vm.crashed",
  "vm.restarting",
  "vm.deleted",
  "vm.config_updated",
  "vm.adopted",
  "vm.failed",
  "vm.snapshotted",
  "vm.restored",
  "deployment.created",
  "deployment.updated",
  "deployment.deleted",
  "deployment.scaled",
  "deployment.replica_replaced",
  "deployment.rollout_failed",
  "deployment.rolled_out",
] as const;
export const EventTypeSchema = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventTypeSchema>;

export const ResourceTypeSchema = z.enum(["plugin", "vm", "deployment", "system", "key"]);
export type ResourceType = z.infer<typeof ResourceTypeSchema>;

/** One persisted event; ids increase strictly and are the SSE `id:`. */
export const EventSchema = z.object({
  id: z.int().min(1),
  type: EventTypeSchema,
  resource_type: ResourceTypeSchema,
  /** The resource's name. */
  resource: z.string(),
  time: Timestamp,
  data: z.record(z.string(), z.unknown()),
});
export type VolantEvent = z.infer<typeof EventSchema>;

const typeList = new RegExp(
  `^(${EVENT_TYPES.join("|")}|[a-z]+\\.\\*)(,(${EVENT_TYPES.join("|")}|[a-z]+\\.\\*))*$`,
);

/**
 * GET /api/v1/events (SSE, and ?follow=false for a JSON page). `type` is a
 * comma-separated list; `vm.*` matches a whole family. `after` = resume after
 * this id (Last-Event-ID takes precedence).
 */
export const EventQuerySchema = z.object({
  type: z.string().regex(typeList, "must be a comma-separated list of event types or family.*")
    .optional(),
  resource: z.string().max(63).optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});
export type EventQuery = z.output<typeof EventQuerySchema>;

export const EventListSchema = z.object({ items: z.array(EventSchema) });

// ---------------------------------------------------------------- system

export const SystemInfoSchema = z.object({
  version: z.string(),
  started_at: Timestamp,
  uptime_s: z.number(),
  state_dir: z.string(),
  hypervisor: z.object({
    kind: z.string(),
    available: z.boolean(),
    reason: z.string().optional(),
    /** The accelerator VMs boot with and why (the KVM probe's verdict); QEMU only. */
    accel: z.object({
      mode: z.enum(["auto", "kvm", "tcg"]),
      accel: z.enum(["kvm", "tcg"]),
      reason: z.string(),
      probed_at: Timestamp.nullable(),
      probe_ms: z.number().nullable(),
      cached: z.boolean(),
    }).optional(),
    /** The VMM jail (docs/security.md): user, seccomp, cgroup, and what the host lacks. */
    jail: z.object({
      enabled: z.boolean(),
      user: z.string().nullable(),
      uid: z.int().nullable(),
      gid: z.int().nullable(),
      seccomp: z.boolean(),
      cgroup: z.enum(["v1", "v2"]).nullable(),
      /** The VMM runs in a private mount namespace holding only its own files. */
      mount_ns: z.boolean(),
      notes: z.array(z.string()),
    }),
  }),
  network: z.object({
    bridge: z.string(),
    subnet: z.string(),
    gateway: z.string(),
    pool_start: z.string(),
    pool_end: z.string(),
    leased: z.int(),
    capacity: z.int(),
  }),
  vms: z.object({
    total: z.int(),
    by_state: z.record(z.string(), z.int()),
  }),
  plugins: z.object({ total: z.int(), enabled: z.int() }),
});
export type SystemInfo = z.infer<typeof SystemInfoSchema>;

/** One host PCI device a VM could be given (VFIO), with its IOMMU group. */
export const PciDeviceSchema = z.object({
  address: z.string().describe("DDDD:BB:DD.F"),
  vendor: z.string().describe("vendor id, 4 hex digits"),
  device: z.string().describe("device id, 4 hex digits"),
  class: z.string().describe("PCI class, 6 hex digits"),
  driver: z.string().nullable(),
  iommu_group: z.int().nullable(),
  /** Every device of the group: all must be passed together (or already be on vfio-pci). */
  group_devices: z.array(z.string()),
});

/** GET /api/v1/system/pci: whether this host can pass devices, and the candidates. */
export const PciListSchema = z.object({
  available: z.boolean(),
  /** Why not, when not available. */
  reason: z.string().optional(),
  items: z.array(PciDeviceSchema),
});
export type PciList = z.infer<typeof PciListSchema>;

// ---------------------------------------------------------------- plugin actions

/** An action's JSON payload (POST .../actions/{action} body): a JSON object. */
export const ActionPayloadSchema = z.record(z.string(), z.unknown());
export type ActionPayload = z.infer<typeof ActionPayloadSchema>;

/** POST /api/v1/vms/{name}/actions/{action}?plugin=P: `plugin`, when given, must be the VM's. */
export const VmActionQuerySchema = z.object({ plugin: NameSchema.optional() });

/** Action names as the manifest allows them. */
export const ActionNameSchema = z.string().regex(
  /^[A-Za-z0-9_.-]{1,64}$/,
  "must be an action name (letters, digits, _ . -)",
);

/** What an action returned: the workload answered 2xx (other answers are 502 problems). */
export const ActionResultSchema = z.object({
  vm: NameSchema,
  plugin: NameSchema,
  action: z.string(),
  /** The workload's HTTP status. */
  status: z.int(),
  content_type: z.string(),
  /** The workload's body: parsed JSON when it says JSON, else text. */
  body: z.unknown(),
  duration_ms: z.int().min(0),
});
export type ActionResult = z.infer<typeof ActionResultSchema>;
