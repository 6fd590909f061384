/**
 * /api/v1/deployments: list, create, show, change (scale / config / strategy),
 * roll back, delete. The work happens in the deployment controller: these
 * calls record the desired state and answer with the deployment as it is.
 * Without a deployment service (API-only test setups) every route answers 501.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { VolantError } from "../../errors.ts";
import {
  CreateDeploymentBodySchema,
  DeploymentEventData,
  DeploymentListSchema,
  DeploymentRecordSchema,
  PatchDeploymentBodySchema,
} from "../../manifest/deployment.ts";
import type { DeploymentServiceApi } from "../../service/contracts.ts";
import { json, newRouter, registerEventData } from "../router.ts";
import { NameParam, problems } from "../schemas.ts";

const tags = ["deployments"];
const DeploymentRecord = DeploymentRecordSchema.meta({ id: "DeploymentRecord" });
const DeploymentList = DeploymentListSchema.meta({ id: "DeploymentList" });
const CreateDeploymentBody = CreateDeploymentBodySchema.meta({ id: "CreateDeploymentBody" });
const PatchDeploymentBody = PatchDeploymentBodySchema.meta({ id: "PatchDeploymentBody" });

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List deployments with their replicas and conditions",
  responses: {
    200: { description: "All deployments", content: json(DeploymentList) },
    ...problems(501),
  },
});

const create = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create a deployment: N replicas <name>-<n> of one config",
  request: { body: { required: true, content: json(CreateDeploymentBody) } },
  responses: {
    201: {
      description: "Created (replicas come up in the background)",
      content: json(DeploymentRecord),
    },
    ...problems(400, 404, 409, 501),
  },
});

const show = createRoute({
  method: "get",
  path: "/{name}",
  tags,
  summary: "Show one deployment",
  request: { params: NameParam },
  responses: {
    200: { description: "The deployment", content: json(DeploymentRecord) },
    ...problems(400, 404, 501),
  },
});

const patch = createRoute({
  method: "patch",
  path: "/{name}",
  tags,
  summary: "Scale (replicas), update the config (rolling update) or the strategy",
  request: { params: NameParam, body: { required: true, content: json(PatchDeploymentBody) } },
  responses: {
    200: { description: "The deployment after the change", content: json(DeploymentRecord) },
    ...problems(400, 404, 409, 501),
  },
});

const rollback = createRoute({
  method: "post",
  path: "/{name}/rollback",
  tags,
  summary: "Roll back to the config before the current one (a new revision)",
  request: { params: NameParam },
  responses: {
    200: { description: "The deployment after the change", content: json(DeploymentRecord) },
    ...problems(400, 404, 409, 501),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/{name}",
  tags,
  summary: "Delete a deployment and all its replicas (in the background)",
  request: { params: NameParam },
  responses: {
    202: { description: "Deletion under way", content: json(DeploymentRecord) },
    ...problems(400, 404, 501),
  },
});

/** The deployments router. */
export function deploymentRoutes(service?: DeploymentServiceApi) {
  const app = newRouter();
  // Event data shapes, for SSE clients (the events route carries them as `data`).
  registerEventData(app, DeploymentEventData);
  const svc = (): DeploymentServiceApi => {
    if (!service) {
      throw new VolantError("not_implemented", "deployments are not enabled in this server");
    }
    return service;
  };
  app.openapi(list, async (c) => c.json({ items: await svc().list() }, 200));
  app.openapi(create, async (c) => {
    const d = await svc().create(c.req.valid("json"));
    c.header("Location", `/api/v1/deployments/${d.name}`);
    return c.json(d, 201);
  });
  app.openapi(show, async (c) => c.json(await svc().get(c.req.valid("param").name), 200));
  app.openapi(
    patch,
    async (c) => c.json(await svc().patch(c.req.valid("param").name, c.req.valid("json")), 200),
  );
  app.openapi(
    rollback,
    async (c) => c.json(await svc().rollback(c.req.valid("param").name), 200),
  );
  app.openapi(remove, async (c) => c.json(await svc().delete(c.req.valid("param").name), 202));
  return app;
}
