/**
 * The MCP tools that are REST routes: one entry per tool naming its route.
 * Schemas are derived from the routes (tool_schema.ts) and calls go through
 * the same app (dispatch.ts): validation, services and errors are REST's.
 *
 * @module
 */
import { execTranscript } from "./exec_tool.ts";
import { DEPLOYMENT_TOOLS } from "./deployment_tools.ts";
import { SNAPSHOT_TOOLS } from "./snapshot_tools.ts";
import type { RestToolSpec } from "./tool_spec.ts";

const readOnly = { readOnlyHint: true, openWorldHint: false };
const change = { readOnlyHint: false, destructiveHint: false, openWorldHint: false };
const destroy = { readOnlyHint: false, destructiveHint: true, openWorldHint: false };

/** Drops ANSI/VT control sequences and carriage returns: what a terminal would show. */
export function screenText(text: string): string {
  const esc = String.fromCharCode(27);
  return text
    .replace(new RegExp(`${esc}\\[[0-?]*[ -/]*[@-~]`, "g"), "")
    .replace(new RegExp(`${esc}[@-Z\\\\-_]`, "g"), "")
    .replace(/\r+\n/g, "\n")
    .replace(/^.*\r/gm, "");
}

const PLUGIN_TOOLS: RestToolSpec[] = [
  {
    name: "plugins_list",
    title: "List plugins",
    description: "Installed plugins with their manifests and artifacts.",
    method: "get",
    path: "/api/v1/plugins",
    annotations: readOnly,
  },
  {
    name: "plugins_show",
    title: "Show a plugin",
    description:
      "One installed plugin: version, enabled, manifest (actions, resources), artifacts.",
    method: "get",
    path: "/api/v1/plugins/{name}",
    annotations: readOnly,
  },
  {
    name: "plugins_install",
    title: "Install a plugin",
    description: "Installs a plugin from a manifest URL (http(s):// or file://), a host path " +
      "or an inline manifest; every artifact is downloaded and sha256-verified. The same " +
      "version again is a no-op (outcome unchanged).",
    method: "post",
    path: "/api/v1/plugins",
    annotations: { ...change, openWorldHint: true },
  },
  {
    name: "plugins_enable",
    title: "Enable a plugin",
    description: "Enables a plugin: VMs can be created from it and its actions become tools.",
    method: "post",
    path: "/api/v1/plugins/{name}/enable",
    annotations: { ...change, idempotentHint: true },
  },
  {
    name: "plugins_disable",
    title: "Disable a plugin",
    description: "Disables a plugin: no new VMs from it; its action tools disappear.",
    method: "post",
    path: "/api/v1/plugins/{name}/disable",
    annotations: { ...change, idempotentHint: true },
  },
  {
    name: "plugins_remove",
    title: "Remove a plugin",
    description: "Removes a plugin (refused while VMs use it unless force is true).",
    method: "delete",
    path: "/api/v1/plugins/{name}",
    result: "none",
    annotations: destroy,
  },
];

const VM_TOOLS: RestToolSpec[] = [
  {
    name: "vms_list",
    title: "List VMs",
    description: "VMs with filters (state, plugin, substring q), sorting and pagination.",
    method: "get",
    path: "/api/v1/vms",
    annotations: readOnly,
  },
  {
    name: "vms_show",
    title: "Show a VM",
    description: "One VM: state, health, IP, MAC, resources, restart policy, last error.",
    method: "get",
    path: "/api/v1/vms/{name}",
    annotations: readOnly,
  },
  {
    name: "vms_create",
    title: "Create a VM",
    description: "Creates a VM from an installed, enabled plugin and boots it (unless start is " +
      "false). CPU and memory default to the plugin manifest's resources.",
    method: "post",
    path: "/api/v1/vms",
    annotations: change,
  },
  {
    name: "vms_start",
    title: "Start a VM",
    description: "Boots a created, stopped or crashed VM.",
    method: "post",
    path: "/api/v1/vms/{name}/start",
    annotations: { ...change, idempotentHint: true },
  },
  {
    name: "vms_stop",
    title: "Stop a VM",
    description: "Shuts a VM down gracefully; it is killed after grace_ms.",
    method: "post",
    path: "/api/v1/vms/{name}/stop",
    annotations: { ...change, idempotentHint: true },
  },
  {
    name: "vms_restart",
    title: "Restart a VM",
    description: "Stops then starts a VM.",
    method: "post",
    path: "/api/v1/vms/{name}/restart",
    annotations: change,
  },
  {
    name: "vms_delete",
    title: "Delete a VM",
    description: "Stops a VM and deletes it (releases its IP, TAP and disk overlay).",
    method: "delete",
    path: "/api/v1/vms/{name}",
    result: "none",
    annotations: destroy,
  },
  {
    name: "vms_logs",
    title: "Tail a VM's log",
    description: "The last `tail` lines of the VM's serial log (kernel, kestrel and workload " +
      "output), as `volar vms logs` prints it.",
    method: "get",
    path: "/api/v1/vms/{name}/logs",
    fixedQuery: { follow: "false" },
    result: "text",
    annotations: readOnly,
  },
  {
    name: "vms_console_snapshot",
    title: "Console snapshot",
    description: "What the VM's serial console shows now: its last `tail` lines (default 50) " +
      "with terminal control sequences removed.",
    method: "get",
    path: "/api/v1/vms/{name}/logs",
    fixedQuery: { follow: "false" },
    defaults: { tail: 50 },
    result: "text",
    transform: screenText,
    annotations: readOnly,
  },
  {
    name: "exec",
    title: "Run a command in a VM",
    description: "Runs `argv` in the running VM through its agent (as root unless `user`), " +
      "with optional `stdin` (base64), `env`, `cwd` and `timeout_ms`; answers the exit code, " +
      "stdout and stderr. Its whole session is killed at exit or timeout_ms.",
    method: "post",
    path: "/api/v1/vms/{name}/exec",
    result: "text",
    transform: execTranscript,
    annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
  },
  {
    name: "vms_config",
    title: "Show a VM's config",
    description: "The VM's current versioned configuration.",
    method: "get",
    path: "/api/v1/vms/{name}/config",
    annotations: readOnly,
  },
  {
    name: "vms_openapi",
    title: "The workload's OpenAPI document",
    description: "The OpenAPI document the VM's plugin declares (manifest `openapi`), fetched " +
      "from the workload through kestrel.",
    method: "get",
    path: "/api/v1/vms/{name}/openapi",
    result: "text",
    annotations: readOnly,
  },
];

/** Generic action tools; each plugin's actions also get tools of their own (action_tools.ts). */
const ACTION_TOOLS: RestToolSpec[] = [
  {
    name: "vms_action",
    title: "Run a plugin action on a VM",
    description: "Runs an action of the VM's plugin on this VM with a JSON payload.",
    method: "post",
    path: "/api/v1/vms/{name}/actions/{action}",
    bodyArg: "payload",
    annotations: { ...change, openWorldHint: true },
  },
  {
    name: "plugins_action",
    title: "Run a plugin action",
    description: "Runs a plugin action on a healthy running VM of the plugin (error when none is).",
    method: "post",
    path: "/api/v1/plugins/{name}/actions/{action}",
    bodyArg: "payload",
    annotations: { ...change, openWorldHint: true },
  },
];

const OTHER_TOOLS: RestToolSpec[] = [
  {
    name: "events_since",
    title: "Events since an id",
    description: "Persisted events after id `after` (oldest first), optionally filtered by type " +
      "(comma list, family.* allowed) and resource name.",
    method: "get",
    path: "/api/v1/events",
    fixedQuery: { follow: "false" },
    omit: ["last_event_id"],
    annotations: readOnly,
  },
  {
    name: "system_info",
    title: "System info",
    description: "Daemon version, uptime, hypervisor availability, network pool and counts.",
    method: "get",
    path: "/api/v1/system/info",
    annotations: readOnly,
  },
  {
    name: "system_pci",
    title: "PCI devices",
    description: "Host PCI devices a VM could be given (VFIO), with IOMMU groups and drivers, " +
      "and whether this host can pass devices at all.",
    method: "get",
    path: "/api/v1/system/pci",
    annotations: readOnly,
  },
];

/** Every REST-backed tool, in tools/list order. */
export const REST_TOOLS: readonly RestToolSpec[] = [
  ...PLUGIN_TOOLS,
  ...VM_TOOLS,
  ...ACTION_TOOLS,
  ...DEPLOYMENT_TOOLS,
  ...SNAPSHOT_TOOLS,
  ...OTHER_TOOLS,
];
