/**
 * A sub-app factory: every resource router validates with the same hook, so a
 * bad body, query or path always answers the same problem+json.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
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
