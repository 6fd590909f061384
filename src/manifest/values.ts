/**
 * The API's fixed value lists, without zod: the schemas (api.ts, plugin.ts,
 * deployment.ts) build their enums from these, and volar's help text and flag
 * checks read them here, so a CLI call never loads zod (docs/development.md,
 * "CLI start-up").
 *
 * @module
 */

/** A VM's lifecycle states. */
export const VM_STATES = [
  "created",
  "starting",
  "running",
  "stopping",
  "stopped",
  "crashed",
  "deleting",
] as const;

/** Sort keys of GET /api/v1/vms. */
export const VM_SORT_KEYS = ["name", "state", "created_at", "updated_at", "ip", "id"] as const;

/** QEMU machine types. */
export const MACHINES = ["microvm", "q35"] as const;

/** What the daemon does when a VM's VMM exits. */
export const RESTART_POLICIES = ["never", "on-failure", "always"] as const;

/** Most replicas one deployment may ask for (the address pool is the real limit). */
export const MAX_REPLICAS = 1000;

/** Largest exec stdin accepted in one request (base64 text length; src/manifest/exec.ts). */
export const EXEC_MAX_STDIN_B64 = 88 * 1024 * 1024;

/** The content type of an exec answer stream. */
export const NDJSON = "application/x-ndjson";
