/**
 * A sub-app factory: every resource router validates with the same hook, so a
 * bad body, query or path always answers the same problem+json.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { validationHook } from "./middleware/validation.ts";
import type { ApiEnv } from "./types.ts";

/** A new OpenAPIHono router with Volant's validation hook. */
export function newRouter(): OpenAPIHono<ApiEnv> {
  return new OpenAPIHono<ApiEnv>({
    defaultHook: (result) => {
      validationHook(result as Parameters<typeof validationHook>[0]);
    },
  });
}

/** JSON content of a response or body schema. */
export function json<T>(schema: T): { "application/json": { schema: T } } {
  return { "application/json": { schema } };
}

/**
 * A hand-built Response (a stream) returned from a typed OpenAPI handler.
 * Streams are not TypedResponses; the document still describes them.
 */
export function rawResponse(response: Response): never {
  return response as never;
}

/**
 * Documents event data shapes for SSE clients (the events route carries them
 * as `data`): `vm.stopped` -> component `VmStoppedEventData`.
 */
export function registerEventData(
  app: OpenAPIHono<ApiEnv>,
  schemas: Readonly<Record<string, z.ZodType>>,
): void {
  for (const [type, schema] of Object.entries(schemas)) {
    const id = type.replace(/(^|[._])([a-z])/g, (_, __, c: string) => c.toUpperCase());
    app.openAPIRegistry.registerComponent(
      "schemas",
      `${id}EventData`,
      z.toJSONSchema(schema, { target: "openapi-3.0" }) as Record<string, unknown>,
    );
  }
}
