/**
 * The Hono app factory: middleware (request id, access log, auth), one
 * resource router per resource, one error renderer (problem+json), 404/405,
 * and the OpenAPI document generated from the same zod schemas.
 *
 * @example
 * ```ts
 * const app = createApp({ services, auth: { token } });
 * Deno.serve({ path: socket }, (req) => app.fetch(req, { transport: "unix" }));
 * ```
 *
 * @module
 */
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { type ApiDeps, NO_LOG_READER } from "./deps.ts";
import { VolantError } from "../errors.ts";
import type { GuestServiceApi } from "../service/contracts.ts";
import { notFoundHandler } from "./method_not_allowed.ts";
import { accessLog } from "./middleware/access_log.ts";
import { auth } from "./middleware/auth.ts";
import { bodyLimits } from "./middleware/body_limit.ts";
import { errorHandler } from "./middleware/error_handler.ts";
import { replicaGuard } from "./middleware/replica_guard.ts";
import { requestId } from "./middleware/request_id.ts";
import { mcpRouter } from "./mcp/mod.ts";
import { generateDocument, registerSecurity } from "./openapi.ts";
import { newRouter } from "./router.ts";
import { pluginActionRoutes, vmActionRoutes } from "./routes/actions.ts";
import { agentProxyRoutes } from "./routes/agent_proxy.ts";
import { consoleRoutes } from "./routes/console.ts";
import { execRoutes } from "./routes/exec.ts";
import { execPtyRoutes } from "./routes/exec_pty.ts";
import { fileRoutes } from "./routes/files.ts";
import { deploymentRoutes } from "./routes/deployments.ts";
import { eventRoutes } from "./routes/events.ts";
import { keyRoutes } from "./routes/keys.ts";
import { pluginRoutes } from "./routes/plugins.ts";
import { healthRoutes, systemRoutes } from "./routes/system.ts";
import { vmLogRoutes } from "./routes/vm_logs.ts";
import { vmRoutes } from "./routes/vms.ts";
import { pluginWarmRoutes, snapshotRoutes } from "./routes/snapshots.ts";
import type { ApiEnv } from "./types.ts";
import { silentLogger } from "../log/mod.ts";

const openapiRoute = createRoute({
  method: "get",
  path: "/api/v1/openapi.json",
  tags: ["system"],
  summary: "This OpenAPI 3.1 document",
  responses: {
    200: {
      description: "The document",
      content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
    },
  },
});

/** Stands in when the services have no guest service (API tests of other routes). */
const noGuestService: GuestServiceApi = {
  forward: () => Promise.reject(new VolantError("unavailable", "no guest service configured")),
  exec: () => Promise.reject(new VolantError("unavailable", "no guest service configured")),
  openPty: () => Promise.reject(new VolantError("unavailable", "no guest service configured")),
  openConsole: () => Promise.reject(new VolantError("unavailable", "no guest service configured")),
  readFiles: () => Promise.reject(new VolantError("unavailable", "no guest service configured")),
  writeFiles: () => Promise.reject(new VolantError("unavailable", "no guest service configured")),
};

/** Builds the API app. */
export function createApp(deps: ApiDeps): OpenAPIHono<ApiEnv> {
  const logger = deps.logger ?? silentLogger;
  const { plugins, vms, events, system, keys, actions } = deps.services;
  const guest = deps.services.guest ?? noGuestService;
  const app = newRouter();
  app.use("*", requestId());
  app.use("*", accessLog({ logger }));
  app.use("*", auth(deps.auth));
  app.use("*", bodyLimits(deps.bodyLimits));
  app.onError(errorHandler({ logger }));

  app.route("/", healthRoutes());
  app.route("/api/v1/plugins", pluginRoutes(plugins));
  app.route("/api/v1/plugins", pluginActionRoutes(actions));
  app.route("/api/v1/plugins", pluginWarmRoutes(deps.services.snapshots));
  const deployments = deps.services.deployments;
  if (deployments) {
    app.use("*", replicaGuard({ ownerOf: (n) => deployments.ownerOf(n) }));
  }
  app.route("/api/v1/vms", vmRoutes(vms));
  app.route("/api/v1/vms", vmActionRoutes(actions));
  app.route("/api/v1/vms", snapshotRoutes(deps.services.snapshots));
  const shutdown = deps.shutdown ?? new AbortController().signal;
  app.route("/api/v1/vms", vmLogRoutes(vms, deps.logs ?? NO_LOG_READER, shutdown));
  app.route(
    "/api/v1/vms",
    agentProxyRoutes(guest, {
      timeoutMs: deps.agentTimeoutMs ?? 120_000,
      enter: deps.services.snapshots && ((n) => deps.services.snapshots!.enterAgent(n)),
    }),
  );
  app.route("/api/v1/deployments", deploymentRoutes(deployments));
  app.route(
    "/api/v1/events",
    eventRoutes(events, { heartbeatMs: deps.heartbeatMs ?? 15_000, logger, shutdown }),
  );
  app.route("/api/v1/system", systemRoutes(system));
  app.route("/api/v1/keys", keyRoutes(keys));
  app.route("/api/v1/vms", execRoutes(guest));
  app.route("/api/v1/vms", execPtyRoutes(guest, logger));
  app.route("/api/v1/vms", fileRoutes(guest));
  app.route("/ws/v1/vms", consoleRoutes(guest, logger));
  // Last: its tools are derived from every route above.
  app.route("/mcp", mcpRouter(app, { plugins, events, logger, shutdown }));

  registerSecurity(app);
  let document: Record<string, unknown> | undefined;
  app.openapi(openapiRoute, (c) => {
    document ??= generateDocument(app);
    return c.json(document, 200);
  });
  app.notFound(notFoundHandler(app.routes));
  return app;
}
