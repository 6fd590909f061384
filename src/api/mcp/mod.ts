/**
 * volantd's MCP server: streamable HTTP at `/mcp`, tools derived from the
 * REST routes (rest_tools.ts, deployment_tools.ts) plus one tool per plugin
 * action, resources for events, VMs and their logs.
 *
 * @example
 * ```ts
 * const app = newRouter(); // ... every REST route mounted first
 * app.route("/mcp", mcpRouter(app, { plugins, events, logger, shutdown }));
 * ```
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { EventBusApi, PluginServiceApi } from "../../service/contracts.ts";
import { VERSION } from "../../version.ts";
import type { ApiEnv } from "../types.ts";
import type { LogSink } from "../../log/mod.ts";
import { mcpRoutes } from "./endpoint.ts";
import { REST_TOOLS } from "./rest_tools.ts";
import { buildRestTool, type RestTool, routeConfigs } from "./tool_schema.ts";

export { actionToolName, actionTools } from "./action_tools.ts";
export { DEPLOYMENT_TOOLS } from "./deployment_tools.ts";
export { REST_TOOLS } from "./rest_tools.ts";
export type { RestTool } from "./tool_schema.ts";

/** Every REST-backed tool, built from `app`'s routes (throws when one no longer fits). */
export function buildRestTools(app: OpenAPIHono<ApiEnv>): RestTool[] {
  const routes = routeConfigs(app);
  return REST_TOOLS.map((spec) => buildRestTool(spec, routes));
}

/** The /mcp router over `app` (mount it after every REST route). */
export function mcpRouter(
  app: OpenAPIHono<ApiEnv>,
  deps: {
    plugins: PluginServiceApi;
    events: EventBusApi;
    logger: LogSink;
    shutdown: AbortSignal;
  },
) {
  return mcpRoutes({
    ...deps,
    fetch: (req, env) => app.fetch(req, env),
    tools: buildRestTools(app),
    version: VERSION,
  });
}
