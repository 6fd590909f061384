/**
 * The data of every `vm.*` event (the SSE `data` field's `data`): one schema
 * a type. Where the daemon used to publish one type from several places with
 * different shapes (vm.stopped, vm.crashed, vm.failed), the schema is their
 * union with every field optional but `cause`, which says which case it is.
 *
 * @module
 */
import { z } from "zod";
import { VmStateSchema } from "./api.ts";
import { RestartPolicySchema } from "./plugin.ts";

/** Why a VM reached `stopped`. */
export const VmStopCauseSchema = z.enum([
  /** A user (or the controller) asked: stop, restart, delete. */
  "requested",
  /** The guest powered off on its own (VMM exit 0, no reset). */
  "guest_power_off",
  /** It was stopping when volantd went away and its VMM was gone at the next start. */
  "daemon_restart",
]);

/** Why a VM reached `crashed`. */
export const VmCrashCauseSchema = z.enum([
  /** The VMM exited (or was killed) without being asked to. */
  "exit",
  /** A requested stop could not shut the VMM down. */
  "stop_failed",
  /** The row said running but the VMM was gone when volantd started. */
  "lost",
]);

/** Why a start failed for good. */
export const VmFailCauseSchema = z.enum(["start_failed", "restart_limit"]);

const Automatic = z.boolean().describe("true when the restart policy started it, not a user");

/** Data of each `vm.*` event. */
export const VmEventData = {
  "vm.created": z.object({
    name: z.string(),
    plugin: z.string(),
    ip: z.string(),
    mac: z.string(),
    tap: z.string(),
  }),
  "vm.starting": z.object({ automatic: Automatic, attempt: z.int().min(0) }),
  "vm.started": z.object({
    name: z.string(),
    state: z.literal("running"),
    ip: z.string(),
    pid: z.int(),
  }),
  "vm.running": z.object({ pid: z.int(), ip: z.string(), automatic: Automatic }),
  /** kestrel's account of the boot (docs/kestrel.md, "Workload first"); times are guest uptimes. */
  "vm.workload_started": z.object({
    by: z.enum(["shim", "kestrel"]),
    pid: z.int().optional(),
    guest_uptime_ms: z.number().min(0).optional(),
  }),
  "vm.agent_joined": z.object({
    /** True when kestrel itself started the workload (no workload-first hand-off). */
    before_workload: z.boolean(),
    guest_uptime_ms: z.number().min(0).optional(),
  }),
  "vm.healthy": z.object({ attempts: z.int().min(1), detail: z.string().optional() }),
  "vm.unhealthy": z.object({ attempts: z.int().min(1), detail: z.string().optional() }),
  "vm.stopping": z.object({ grace_ms: z.int().min(0) }),
  "vm.stopped": z.object({
    cause: VmStopCauseSchema,
    /** Human text for guest_power_off / daemon_restart. */
    reason: z.string().optional(),
    /** The VMM's exit code (guest_power_off). */
    code: z.int().optional(),
    /** The state it was stopped from when that was `crashed` (nothing left to shut down). */
    from: VmStateSchema.optional(),
  }),
  "vm.crashed": z.object({
    cause: VmCrashCauseSchema,
    /** Also written to the VM's last_error. */
    reason: z.string().optional(),
    /** Exit code / signal of the VMM (cause exit). */
    code: z.int().nullable().optional(),
    signal: z.string().nullable().optional(),
    pid: z.int().optional(),
    /** What failed (cause stop_failed), and during which operation. */
    error: z.string().optional(),
    during: z.literal("stop").optional(),
  }),
  "vm.restarting": z.object({
    attempt: z.int().min(1),
    delay_ms: z.int().min(0),
    policy: RestartPolicySchema,
  }),
  "vm.deleted": z.object({ ip: z.string(), reason: z.string().optional() }),
  "vm.config_updated": z.object({
    version: z.int().min(1),
    fields: z.array(z.string()),
    applies_at_next_start: z.boolean(),
  }),
  "vm.adopted": z.object({ pid: z.int(), was: VmStateSchema }),
  "vm.failed": z.object({
    cause: VmFailCauseSchema,
    /** start_failed: the error, and what the rollback could not undo. */
    error: z.string().optional(),
    rollback: z.array(z.string()).optional(),
    /** restart_limit: the limit's text, and the attempt it refused. */
    reason: z.string().optional(),
    attempt: z.int().optional(),
  }),
  "vm.snapshotted": z.object({
    snapshot: z.string(),
    size_bytes: z.int().min(0),
    pause_ms: z.int().min(0),
    stopped: z.boolean(),
  }),
  "vm.restored": z.object({
    snapshot: z.string(),
    pid: z.int(),
    ms: z.int().min(0),
    /** True for a warm-start clone of a plugin's ready snapshot. */
    clone: z.boolean(),
    /** Where `ms` went: checks (versions, machine, checksums), host side (TAP, disks), VMM (start + state load), identity (clones: resume + hand-off). */
    phases_ms: z.object({
      checks: z.int().min(0),
      host: z.int().min(0),
      vmm: z.int().min(0),
      identity: z.int().min(0),
    }).optional(),
  }),
} as const;

export type VmEventType = keyof typeof VmEventData;
export const VM_EVENT_TYPES = Object.keys(VmEventData) as VmEventType[];

/** One `vm.*` event before it is published: its type and its typed data. */
export type VmEventInput = {
  [T in VmEventType]: { type: T; data: z.input<(typeof VmEventData)[T]> };
}[VmEventType];

/** Validates an event's data against its type's schema (unknown fields are an error). */
export function parseVmEventData(event: VmEventInput): Record<string, unknown> {
  return VmEventData[event.type].strict().parse(event.data) as Record<string, unknown>;
}
