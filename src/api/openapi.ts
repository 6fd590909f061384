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
    { name: "mcp" },
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

/**
 * A stable operationId from method and path, unique because (method, path)
 * is: `GET /api/v1/vms/{name}/config/history` -> `getVmsByNameConfigHistory`.
 */
export function operationId(method: string, path: string): string {
  const cap = (w: string) => w.charAt(0).toUpperCase() + w.slice(1);
  const words = path.split("/").filter((seg) => seg && seg !== "api" && seg !== "v1").map(
    (seg) => {
      const param = /^\{(.+)\}$/.exec(seg);
      const word = (param ? param[1] : seg).split(/[^A-Za-z0-9]+/).filter(Boolean).map(cap)
        .join("");
      return param ? `By${word}` : word;
    },
  );
  return method.toLowerCase() + words.join("");
}

/** Generates the document (deterministic: same routes, same bytes). */
export function generateDocument(app: OpenAPIHono<ApiEnv>): Record<string, unknown> {
  const doc = app.getOpenAPI31Document(INFO) as unknown as {
    paths: Record<string, Record<string, { operationId?: string }>>;
  };
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) op.operationId ??= operationId(method, path);
  }
  return doc as unknown as Record<string, unknown>;
}

/** `/api/v1/vms/:name/agent/*` -> `/api/v1/vms/{name}/agent/{path}`. */
export function toOpenApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)/g, "{$1}").replace(/\/\*$/, "/{path}");
}

/** Serialised exactly as checked in under docs/openapi.json. */
export function serializeDocument(doc: unknown): string {
  return JSON.stringify(doc, null, 2) + "\n";
}
