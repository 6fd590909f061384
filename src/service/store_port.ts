/**
 * The state-store port the services use (implemented by src/store over
 * node:sqlite). Calls are synchronous: `tx(fn)` runs `fn` as one SQLite
 * transaction, and because nothing inside awaits, no other task can
 * interleave with it.
 *
 * @module
 */
import type {
  ArtifactRecord,
  EventType,
  PluginRecord,
  ResourceType,
  VmConfig,
  VmHealth,
  VmListQuery,
  VmRecord,
  VmState,
  VolantEvent,
} from "../manifest/api.ts";
import type { EventFilter } from "./contracts.ts";
import type { DeploymentRepo } from "./deployments/repo_port.ts";

/** A VM row as stored; `pid_start_time` guards adoption against recycled pids. */
export interface VmRow extends Omit<VmRecord, "resources"> {
  pid_start_time?: string;
  /** Last state change requested by a user (stop/delete) rather than by a crash. */
  desired: "running" | "stopped";
  /** The plugin's artifacts pinned at create (the VM boots from these blobs). */
  artifacts: ArtifactRecord[];
}

/** Fields set when inserting a VM (id, tap and timestamps come from the store). */
export type NewVmRow = Omit<VmRow, "id" | "tap" | "created_at" | "updated_at">;

/** Mutable VM fields. `null` clears an optional field. */
export interface VmPatch {
  state?: VmState;
  pid?: number | null;
  pid_start_time?: string | null;
  health?: VmHealth;
  serial_socket?: string | null;
  restarts?: number;
  last_error?: string | null;
  cpu_cores?: number;
  memory_mb?: number;
  kernel_cmdline?: string;
  runtime?: string;
  machine?: VmRow["machine"];
  restart_policy?: VmRow["restart_policy"];
  desired?: VmRow["desired"];
}

export interface PluginRepo {
  get(name: string): PluginRecord | undefined;
  list(): PluginRecord[];
  /** Inserts or replaces the plugin and its artifact rows. */
  put(record: PluginRecord): void;
  setEnabled(name: string, enabled: boolean, now: string): void;
  delete(name: string): void;
  /** Every artifact path referenced by any plugin (for garbage collection). */
  referencedArtifacts(): Set<string>;
}

export interface VmRepo {
  /** Inserts the row, sets `tap = vtap<id>`, returns the stored row. Unique name. */
  insert(row: NewVmRow, now: string): VmRow;
  get(name: string): VmRow | undefined;
  update(name: string, patch: VmPatch, now: string): VmRow;
  delete(name: string): void;
  list(query: VmListQuery): { items: VmRow[]; total: number };
  inStates(states: readonly VmState[]): VmRow[];
  countByPlugin(plugin: string): number;
  countByState(): Record<string, number>;
  /** Artifact paths pinned by any VM (kept by garbage collection). */
  pinnedArtifacts(): Set<string>;
}

export interface LeaseRepo {
  /** Leased addresses as 32-bit numbers, ascending. */
  leased(): number[];
  /** The lowest address in [start, end] without a lease (numeric order), or null. */
  lowestFree(start: number, end: number): number | null;
  /** Records a lease; throws conflict if the address or VM already has one. */
  insert(ip: number, vmId: number, now: string): void;
  releaseVm(vmId: number): void;
  count(): number;
}

export interface ConfigRepo {
  get(vmId: number): { version: number; updated_at: string; config: VmConfig } | undefined;
  /** Writes version = previous + 1 and appends a history row; returns the new version. */
  put(vmId: number, config: VmConfig, now: string): number;
  history(
    vmId: number,
    limit?: number,
  ): { id: number; version: number; updated_at: string; config: VmConfig }[];
}

export interface EventRepo {
  append(
    e: {
      type: EventType;
      resource_type: ResourceType;
      resource: string;
      time: string;
      data: unknown;
    },
  ): number;
  after(id: number, filter: EventFilter | undefined, limit: number): VolantEvent[];
  lastId(): number;
  /** Deletes all but the newest `keep` events; returns how many were deleted. */
  prune(keep: number): number;
}

export interface StateStore {
  readonly path: string;
  tx<T>(fn: () => T): T;
  plugins: PluginRepo;
  vms: VmRepo;
  leases: LeaseRepo;
  configs: ConfigRepo;
  events: EventRepo;
  deployments: DeploymentRepo;
  close(): void;
}

/** Re-exported for adapters that build artifact rows. */
export type { ArtifactRecord };
