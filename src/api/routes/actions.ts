/**
 * Plugin actions and the workload's OpenAPI document:
 *
 * - `POST /api/v1/vms/{name}/actions/{action}` runs an action of the VM's
 *   plugin on that VM (`?plugin=P` makes the caller's expectation explicit);
 * - `POST /api/v1/plugins/{name}/actions/{action}` runs it on a healthy
 *   running VM of the plugin (409 when there is none);
 * - `GET /api/v1/vms/{name}/openapi` serves the document the manifest's
 *   `openapi` names, fetched from the workload through kestrel.
 *
 * The body is the action's JSON payload (an object; absent = `{}`), checked
 * against the action's `payload_schema` before anything reaches the guest.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import {
  ActionNameSchema,
  ActionPayloadSchema,
  ActionResultSchema,
  VmActionQuerySchema,
} from "../../manifest/api.ts";
import type { ActionServiceApi } from "../../service/contracts.ts";
import { json, newRouter, rawResponse } from "../router.ts";
import { NameParam, problems } from "../schemas.ts";

export const ActionResult = ActionResultSchema.meta({ id: "ActionResult" });
export const ActionPayload = ActionPayloadSchema.meta({ id: "ActionPayload" });
export const ActionParams = NameParam.extend({ action: ActionNameSchema });

const body = { required: false, content: json(ActionPayload) };
const responses = {
  200: { description: "The workload answered 2xx", content: json(ActionResult) },
  ...problems(400, 404, 409, 502, 503),
};

const vmAction = createRoute({
  method: "post",
  path: "/{name}/actions/{action}",
  tags: ["vms"],
  summary: "Run a plugin action on this VM (proxied through kestrel to the workload)",
  description: "The payload is checked against the action's payload_schema (400 naming the " +
    "field); the VM must be running (409); a workload answer outside 2xx is a 502 problem " +
    "carrying upstream_status and upstream_body.",
  request: { params: ActionParams, query: VmActionQuerySchema, body },
  responses,
});

const pluginAction = createRoute({
  method: "post",
  path: "/{name}/actions/{action}",
  tags: ["plugins"],
  summary: "Run a plugin action on a healthy running VM of the plugin",
  description: "Picks the first healthy running VM of the plugin by name; 409 when none is.",
  request: { params: ActionParams, body },
  responses,
});

const openapi = createRoute({
  method: "get",
  path: "/{name}/openapi",
  tags: ["vms"],
  summary: "The workload's OpenAPI document (the manifest's openapi path, through kestrel)",
  request: { params: NameParam },
  responses: {
    200: {
      description: "The document as the workload serves it (JSON or YAML)",
      content: {
        "application/json": { schema: z.record(z.string(), z.unknown()) },
        "application/yaml": { schema: z.string() },
      },
    },
    ...problems(400, 404, 409, 502, 503),
  },
});

/** Routes mounted at /api/v1/vms. */
export function vmActionRoutes(actions: ActionServiceApi) {
  const app = newRouter();
  app.openapi(vmAction, async (c) => {
    const { name, action } = c.req.valid("param");
    const payload = c.req.valid("json") ?? {};
    const result = await actions.invokeOnVm(name, action, payload, {
      plugin: c.req.valid("query").plugin,
      signal: c.req.raw.signal,
    });
    return c.json(result, 200);
  });
  app.openapi(openapi, async (c) => {
    const doc = await actions.openapi(c.req.valid("param").name, { signal: c.req.raw.signal });
    return rawResponse(
      new Response(doc.body as Uint8Array<ArrayBuffer>, {
        status: 200,
        headers: { "content-type": doc.contentType, "x-content-type-options": "nosniff" },
      }),
    );
  });
  return app;
}

/** Routes mounted at /api/v1/plugins. */
export function pluginActionRoutes(actions: ActionServiceApi) {
  const app = newRouter();
  app.openapi(pluginAction, async (c) => {
    const { name, action } = c.req.valid("param");
    const payload = c.req.valid("json") ?? {};
    return c.json(
      await actions.invokeOnPlugin(name, action, payload, { signal: c.req.raw.signal }),
      200,
    );
  });
  return app;
}
