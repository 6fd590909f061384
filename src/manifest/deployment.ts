/**
 * Deployment contract: the config file of `volar deployments create --config`
 * (the Quick Start's shape: a plugin plus what a VM create accepts), request
 * bodies, the record the API shows, and the data of every `deployment.*`
 * event. Pure: imports only zod and sibling schemas.
 *
 * @module
 */
import { z } from "zod";
import { DNS_LABEL } from "./names.ts";
import { ResourcesSchema, RestartPolicySchema } from "./plugin.ts";
import { MAX_REPLICAS } from "./values.ts";

const Timestamp = z.string().describe("RFC 3339 timestamp, UTC");

/** Most replicas one deployment may ask for (the address pool is the real limit). */
export { MAX_REPLICAS };

/**
 * A deployment name: a DNS label short enough that `<name>-<n>` (n up to
 * {@linkcode MAX_REPLICAS}) is still one.
 */
export const DeploymentNameSchema = z.string().regex(
  DNS_LABEL,
  "must be a DNS label: lower-case letters, digits or '-', not starting or ending with '-'",
).max(58, "must be at most 58 characters (replica names add -<n>)");

export const ReplicasSchema = z.int("must be an integer")
  .min(0, "must be at least 0")
  .max(MAX_REPLICAS, `must be at most ${MAX_REPLICAS}`);

/**
 * What every replica is created from. Unknown keys are refused (a typo must
 * not be silently ignored). `env` is merged into the workload's environment.
 */
export const DeploymentConfigSchema = z.strictObject({
  plugin: z.string().regex(DNS_LABEL, "must be a plugin name (a DNS label)"),
  resources: ResourcesSchema.partial().optional(),
  kernel_cmdline: z.string().max(1024, "must be at most 1024 characters")
    .regex(/^[^"\n\0]*$/, "must not contain quotes or newlines").optional(),
  machine: z.enum(["microvm", "q35"]).optional(),
  restart_policy: RestartPolicySchema.optional(),
  /** Scale to zero per replica: parked (snapshot + stop) after this long without a request. */
  idle_timeout_s: z.int("must be an integer").min(1, "must be at least 1")
    .max(86_400, "must be at most 86400").optional(),
  env: z.record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name"),
    z.string().max(4096),
  ).optional(),
});
export type DeploymentConfig = z.infer<typeof DeploymentConfigSchema>;

/** Rolling update limits: `max_unavailable` replicas below `replicas`, `max_surge` above. */
export const StrategySchema = z.strictObject({
  max_unavailable: z.int("must be an integer").min(0).max(MAX_REPLICAS).default(0),
  max_surge: z.int("must be an integer").min(0).max(MAX_REPLICAS).default(1),
}).refine((s) => s.max_unavailable + s.max_surge > 0, {
  message: "max_unavailable and max_surge cannot both be 0 (nothing could move)",
  path: ["max_surge"],
});
export type Strategy = z.output<typeof StrategySchema>;

/** POST /api/v1/deployments. */
export const CreateDeploymentBodySchema = z.strictObject({
  name: DeploymentNameSchema,
  replicas: ReplicasSchema,
  config: DeploymentConfigSchema,
  strategy: StrategySchema.optional(),
});
export type CreateDeploymentBody = z.input<typeof CreateDeploymentBodySchema>;

/** PATCH /api/v1/deployments/{name}: scale, new config (a rolling update), or new limits. */
export const PatchDeploymentBodySchema = z.strictObject({
  replicas: ReplicasSchema.optional(),
  config: DeploymentConfigSchema.optional(),
  strategy: StrategySchema.optional(),
}).refine((b) => b.replicas !== undefined || b.config !== undefined || b.strategy, {
  message: "give replicas, config or strategy",
  path: ["replicas"],
});
export type PatchDeploymentBody = z.input<typeof PatchDeploymentBodySchema>;

export const ConditionSchema = z.object({
  /** Available | Progressing | ReplicaFailure | RolloutFailed */
  type: z.enum(["Available", "Progressing", "ReplicaFailure", "RolloutFailed"]),
  status: z.boolean(),
  /** A CamelCase word: PoolExhausted, PluginDisabled, ReplicaUnhealthy, ... */
  reason: z.string(),
  message: z.string(),
  since: Timestamp,
});
export type Condition = z.infer<typeof ConditionSchema>;

export const ReplicaStatusSchema = z.object({
  name: z.string(),
  ordinal: z.int(),
  /** The deployment revision this replica was created from. */
  revision: z.int(),
  /** The VM's state, or `missing` when the VM is gone. */
  state: z.string(),
  health: z.string(),
  ip: z.string().optional(),
  ready: z.boolean(),
});
export type ReplicaStatus = z.infer<typeof ReplicaStatusSchema>;

export const DeploymentRecordSchema = z.object({
  name: z.string(),
  /** Desired replicas. */
  replicas: z.int(),
  config: DeploymentConfigSchema,
  strategy: z.object({ max_unavailable: z.int(), max_surge: z.int() }),
  /** Bumped by every config change (update or rollback). */
  revision: z.int(),
  /** The last revision that was fully rolled out. */
  stable_revision: z.int(),
  /** Replicas that exist (any state). */
  current: z.int(),
  /** Replicas running and healthy. */
  ready: z.int(),
  /** Replicas of the current revision. */
  updated: z.int(),
  rollout: z.enum(["complete", "progressing", "failed", "deleting"]),
  conditions: z.array(ConditionSchema),
  replica_status: z.array(ReplicaStatusSchema),
  created_at: Timestamp,
  updated_at: Timestamp,
});
export type DeploymentRecord = z.infer<typeof DeploymentRecordSchema>;

export const DeploymentListSchema = z.object({ items: z.array(DeploymentRecordSchema) });
export type DeploymentList = z.infer<typeof DeploymentListSchema>;

// ---------------------------------------------------------------- events

/** Data of each `deployment.*` event (the SSE `data` field). */
export const DeploymentEventData = {
  "deployment.created": z.object({
    replicas: z.int(),
    plugin: z.string(),
    revision: z.int(),
  }),
  "deployment.scaled": z.object({ from: z.int(), to: z.int() }),
  "deployment.updated": z.object({
    revision: z.int(),
    previous_revision: z.int(),
    rollback: z.boolean(),
  }),
  "deployment.replica_replaced": z.object({
    replica: z.string(),
    /** crashed | missing | unhealthy | start_failed | stopped */
    reason: z.string(),
    detail: z.string().optional(),
  }),
  "deployment.rollout_failed": z.object({
    revision: z.int(),
    stable_revision: z.int(),
    reason: z.string(),
  }),
  "deployment.rolled_out": z.object({ revision: z.int() }),
  "deployment.deleted": z.object({ replicas: z.int() }),
} as const;
export type DeploymentEventType = keyof typeof DeploymentEventData;
export const DEPLOYMENT_EVENT_TYPES = Object.keys(DeploymentEventData) as DeploymentEventType[];
