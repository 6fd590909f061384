/**
 * The snapshot tools: save, list, show, delete and restore VM snapshots, and
 * a plugin's ready snapshot for warm starts. Schemas come from the routes
 * (tool_schema.ts). Saving a snapshot is not a tool yet: its body's `name`
 * (the snapshot) clashes with the path's `name` (the VM) in one argument list;
 * the two deletes answer 204 without a body, which a tool cannot carry.
 *
 * @module
 */
import type { RestToolSpec } from "./tool_spec.ts";

const readOnly = { readOnlyHint: true, openWorldHint: false };
const change = { readOnlyHint: false, destructiveHint: false, openWorldHint: false };

export const SNAPSHOT_TOOLS: RestToolSpec[] = [
  {
    name: "vms_snapshots_list",
    title: "List a VM's snapshots",
    description: "Name, size, pause and the state the VM was left in, oldest first.",
    method: "get",
    path: "/api/v1/vms/{name}/snapshots",
    annotations: readOnly,
  },
  {
    name: "vms_snapshots_show",
    title: "Show a snapshot",
    description: "One snapshot: files with checksums, VMM/kernel/agent identity.",
    method: "get",
    path: "/api/v1/vms/{name}/snapshots/{snapshot}",
    annotations: readOnly,
  },
  {
    name: "vms_restore",
    title: "Restore a VM",
    description: "Restores a stopped VM from one of its snapshots (checksums and versions " +
      "checked first): same IP, MAC, memory and uptime.",
    method: "post",
    path: "/api/v1/vms/{name}/restore",
    annotations: change,
  },
  {
    name: "plugins_warm",
    title: "Warm a plugin",
    description: "Takes the plugin's ready snapshot; later creates restore clones of it.",
    method: "post",
    path: "/api/v1/plugins/{name}/warm",
    annotations: change,
  },
  {
    name: "plugins_warm_show",
    title: "Show a plugin's ready snapshot",
    description: "The ready snapshot warm starts restore, if the plugin has one.",
    method: "get",
    path: "/api/v1/plugins/{name}/warm",
    annotations: readOnly,
  },
];
