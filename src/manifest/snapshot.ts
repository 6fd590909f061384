/**
 * VM snapshots: the API bodies and records (`POST /api/v1/vms/{vm}/snapshots`,
 * `POST /api/v1/vms/{vm}/restore`), shared by the daemon, the client and the CLI.
 *
 * @module
 */
import { z } from "zod";
import { NameSchema } from "./names.ts";

/** POST /api/v1/vms/{name}/snapshots. */
export const CreateSnapshotBodySchema = z.object({
  /** Snapshot name (default: `s-<UTC timestamp>`). */
  name: NameSchema.optional(),
  /** Stop the VM after the save instead of resuming it (scale to zero, or a cold copy). */
  stop: z.boolean().optional(),
}).strict();
export type CreateSnapshotBody = z.infer<typeof CreateSnapshotBodySchema>;

/** POST /api/v1/vms/{name}/restore. */
export const RestoreVmBodySchema = z.object({
  /** The snapshot of this VM to restore. */
  from: NameSchema,
}).strict();
export type RestoreVmBody = z.infer<typeof RestoreVmBodySchema>;

/** One file of a snapshot, with its checksum (verified before every restore). */
export const SnapshotFileSchema = z.object({
  path: z.string(),
  size: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/** What a snapshot must match to be restored: the VM's machine and host software. */
export const SnapshotIdentitySchema = z.object({
  /** The VMM kind, binary version and accelerator. */
  vmm: z.string(),
  /** sha256 of the guest kernel. */
  kernel: z.string(),
  /** sha256 of the initramfs (plugin's or the boot one); "" when none. */
  initramfs: z.string(),
  /** sha256 of the shared agent image; "" when the VM has none. */
  agent: z.string(),
});
export type SnapshotIdentity = z.infer<typeof SnapshotIdentitySchema>;

/** A stored snapshot. */
export const SnapshotRecordSchema = z.object({
  name: NameSchema,
  vm: NameSchema,
  plugin: z.string(),
  created_at: z.string(),
  /** The VM's state after the save: resumed (`running`) or `stopped`. */
  after: z.enum(["running", "stopped"]),
  /** Total bytes on disk. */
  size_bytes: z.number().int().min(0),
  /** How long the VM was paused for the save, ms. */
  pause_ms: z.number().min(0),
  identity: SnapshotIdentitySchema,
  /** The VM config version the snapshot belongs to. */
  config_version: z.number().int().min(0),
  files: z.array(SnapshotFileSchema),
});
export type SnapshotRecord = z.infer<typeof SnapshotRecordSchema>;

export const SnapshotListSchema = z.object({ items: z.array(SnapshotRecordSchema) });
export type SnapshotList = z.infer<typeof SnapshotListSchema>;

/** Path parameters of one snapshot. */
export const SnapshotParamSchema = z.object({ name: NameSchema, snapshot: NameSchema });
