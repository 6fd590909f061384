/**
 * The deployment tools: one per /api/v1/deployments route. Input and output
 * schemas come from the routes' own zod schemas (tool_schema.ts), like every
 * REST tool, so tools_test.ts fails when a route changes and this list does not.
 *
 * @module
 */
import type { RestToolSpec } from "./tool_spec.ts";

const readOnly = { readOnlyHint: true, openWorldHint: false };
const change = { readOnlyHint: false, destructiveHint: false, openWorldHint: false };
const destroy = { readOnlyHint: false, destructiveHint: true, openWorldHint: false };

export const DEPLOYMENT_TOOLS: RestToolSpec[] = [
  {
    name: "deployments_list",
    title: "List deployments",
    description: "Every deployment with desired, current, ready and updated replica counts.",
    method: "get",
    path: "/api/v1/deployments",
    annotations: readOnly,
  },
  {
    name: "deployments_show",
    title: "Show a deployment",
    description: "One deployment: counts, each replica's name, state, health and IP, conditions.",
    method: "get",
    path: "/api/v1/deployments/{name}",
    annotations: readOnly,
  },
  {
    name: "deployments_create",
    title: "Create a deployment",
    description: "N replicas <name>-<n> of one config (a plugin plus what a VM create accepts), " +
      "kept converged by volantd.",
    method: "post",
    path: "/api/v1/deployments",
    annotations: change,
  },
  {
    name: "deployments_update",
    title: "Scale or update a deployment",
    description: "replicas scales; a new config rolls out replica by replica (max_unavailable, " +
      "max_surge).",
    method: "patch",
    path: "/api/v1/deployments/{name}",
    annotations: change,
  },
  {
    name: "deployments_rollback",
    title: "Roll a deployment back",
    description: "Rolls out the previous config as a new revision.",
    method: "post",
    path: "/api/v1/deployments/{name}/rollback",
    annotations: change,
  },
  {
    name: "deployments_delete",
    title: "Delete a deployment",
    description: "Removes every replica, then the deployment.",
    method: "delete",
    path: "/api/v1/deployments/{name}",
    annotations: destroy,
  },
];
