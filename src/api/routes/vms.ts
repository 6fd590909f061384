/**
 * /api/v1/vms: list (filters, pagination, X-Total-Count), create, show,
 * start/stop/restart, delete, config get/patch/history.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { VmServiceApi } from "../../service/contracts.ts";
import { json, newRouter } from "../router.ts";
import {
  CreateVmBody,
  NameParam,
  problems,
  VersionedVmConfig,
  VmConfigHistory,
  VmConfigHistoryQuery,
  VmConfigPatch,
  VmList,
  VmListQuery,
  VmRecord,
  VmStopQuery,
} from "../schemas.ts";

const tags = ["vms"];
const totalCount = z.object({
  "X-Total-Count": z.string().describe("matches after filtering, before pagination"),
});

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List VMs (filters, sort, pagination)",
  request: { query: VmListQuery },
  responses: {
    200: { description: "A page of VMs", headers: totalCount, content: json(VmList) },
    ...problems(400),
  },
});

const create = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create a VM (and boot it unless start=false)",
  request: { body: { required: true, content: json(CreateVmBody) } },
  responses: {
    201: { description: "Created", content: json(VmRecord) },
    ...problems(400, 404, 409, 503),
  },
});

const show = createRoute({
  method: "get",
  path: "/{name}",
  tags,
  summary: "Show one VM",
  request: { params: NameParam },
  responses: { 200: { description: "The VM", content: json(VmRecord) }, ...problems(400, 404) },
});

const actionResponses = {
  200: { description: "The VM after the action", content: json(VmRecord) },
  ...problems(400, 404, 409, 503),
};
const start = createRoute({
  method: "post",
  path: "/{name}/start",
  tags,
  summary: "Start a created, stopped or crashed VM",
  request: { params: NameParam },
  responses: actionResponses,
});
const stop = createRoute({
  method: "post",
  path: "/{name}/stop",
  tags,
  summary: "Stop a VM gracefully (killed after grace_ms)",
  request: { params: NameParam, query: VmStopQuery },
  responses: actionResponses,
});
const restart = createRoute({
  method: "post",
  path: "/{name}/restart",
  tags,
  summary: "Stop then start a VM",
  request: { params: NameParam, query: VmStopQuery },
  responses: actionResponses,
});

const remove = createRoute({
  method: "delete",
  path: "/{name}",
  tags,
  summary: "Delete a VM (stops it first, releases its lease)",
  request: { params: NameParam, query: VmStopQuery },
  responses: { 204: { description: "Deleted" }, ...problems(400, 404, 409) },
});

const getConfig = createRoute({
  method: "get",
  path: "/{name}/config",
  tags,
  summary: "The VM's current versioned config",
  request: { params: NameParam },
  responses: {
    200: { description: "Current config", content: json(VersionedVmConfig) },
    ...problems(400, 404),
  },
});

const patchConfig = createRoute({
  method: "patch",
  path: "/{name}/config",
  tags,
  summary: "Patch the config (new version; applies at next start)",
  request: { params: NameParam, body: { required: true, content: json(VmConfigPatch) } },
  responses: {
    200: { description: "The new version", content: json(VersionedVmConfig) },
    ...problems(400, 404, 409),
  },
});

const history = createRoute({
  method: "get",
  path: "/{name}/config/history",
  tags,
  summary: "Config history, newest first",
  request: { params: NameParam, query: VmConfigHistoryQuery },
  responses: {
    200: { description: "History entries", content: json(VmConfigHistory) },
    ...problems(400, 404),
  },
});

/** The VMs router. */
export function vmRoutes(vms: VmServiceApi) {
  const app = newRouter();
  app.openapi(list, (c) => {
    const page = vms.list(c.req.valid("query"));
    c.header("X-Total-Count", String(page.total));
    return c.json(page, 200);
  });
  app.openapi(create, async (c) => {
    const vm = await vms.create(c.req.valid("json"));
    c.header("Location", `/api/v1/vms/${vm.name}`);
    return c.json(vm, 201);
  });
  app.openapi(show, (c) => c.json(vms.get(c.req.valid("param").name), 200));
  app.openapi(start, async (c) => c.json(await vms.start(c.req.valid("param").name), 200));
  app.openapi(stop, async (c) => {
    const graceMs = c.req.valid("query").grace_ms;
    return c.json(await vms.stop(c.req.valid("param").name, { graceMs }), 200);
  });
  app.openapi(restart, async (c) => {
    const graceMs = c.req.valid("query").grace_ms;
    return c.json(await vms.restart(c.req.valid("param").name, { graceMs }), 200);
  });
  app.openapi(remove, async (c) => {
    const graceMs = c.req.valid("query").grace_ms;
    await vms.delete(c.req.valid("param").name, { graceMs });
    return c.body(null, 204);
  });
  app.openapi(getConfig, (c) => c.json(vms.getConfig(c.req.valid("param").name), 200));
  app.openapi(patchConfig, async (c) => {
    const { name } = c.req.valid("param");
    return c.json(await vms.patchConfig(name, c.req.valid("json")), 200);
  });
  app.openapi(history, (c) => {
    const items = vms.configHistory(c.req.valid("param").name, c.req.valid("query").limit);
    return c.json({ items }, 200);
  });
  return app;
}
