/**
 * THE place where deployment tools get registered (deployments are their
 * own issue). Add one RestToolSpec per deployments route here, e.g.
 *
 * ```ts
 * { name: "deployments_list", title: "List deployments", description: "...",
 *   method: "get", path: "/api/v1/deployments", annotations: { readOnlyHint: true } },
 * ```
 *
 * Input and output schemas come from the route's own zod schemas
 * (tool_schema.ts): the route must declare `request` and a 2xx JSON
 * response (or the spec says `result: "text" | "none"`). Today's
 * /api/v1/deployments routes answer 501 and declare no schemas, so the list
 * is empty rather than offering tools that cannot work.
 *
 * @module
 */
import type { RestToolSpec } from "./tool_spec.ts";

export const DEPLOYMENT_TOOLS: RestToolSpec[] = [];
