/**
 * The OpenAPI 3.1 document, generated from the routes' zod schemas (the
 * same schemas that validate requests), plus helpers the tests use to prove
 * every registered route is documented.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { VERSION } from "../version.ts";
import type { ApiEnv } from "./types.ts";

/** The document's fixed top-level parts. */
const INFO = {
  openapi: "3.1.0",
  info: {
    title: "Volant API",
    version: VERSION,
    description:
      "volantd's REST API. Over the unix socket (mode 0660) no credentials are needed; " +
      "over TCP (--listen) every request needs `Authorization: Bearer <token>` (the token is in " +
      "<state>/api-token). Errors are RFC 9457 application/problem+json naming the field.",
  },
  servers: [{ url: "/", description: "the daemon (unix socket or --listen address)" }],
  security: [{ bearerAuth: [] }],
  tags: [
    { name: "plugins" },
    { name: "vms" },
    { name: "deployments" },
    { name: "events" },
    { name: "system" },
  ],
};

/** Registers the security scheme; call once on the root app before generating. */
export function registerSecurity(app: OpenAPIHono<ApiEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "Required on TCP only; the unix socket is trusted by its file mode.",
  });
}

/** Generates the document (deterministic: same routes, same bytes). */
export function generateDocument(app: OpenAPIHono<ApiEnv>): Record<string, unknown> {
  return app.getOpenAPI31Document(INFO) as unknown as Record<string, unknown>;
}

/** `/api/v1/vms/:name/agent/*` -> `/api/v1/vms/{name}/agent/{path}`. */
export function toOpenApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)/g, "{$1}").replace(/\/\*$/, "/{path}");
}

/** Serialised exactly as checked in under docs/openapi.json. */
export function serializeDocument(doc: unknown): string {
  return JSON.stringify(doc, null, 2) + "\n";
}
