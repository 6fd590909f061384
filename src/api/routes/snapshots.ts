/**
 * /api/v1/vms/{name}/snapshots: save (POST; also `POST /{name}/snapshot`),
 * list, show, delete; and `POST /{name}/restore` from one of them.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { VolantError } from "../../errors.ts";
import type { SnapshotServiceApi } from "../../service/contracts.ts";
import {
  CreateSnapshotBodySchema,
  RestoreVmBodySchema,
  SnapshotListSchema,
  SnapshotParamSchema,
  SnapshotRecordSchema,
} from "../../manifest/snapshot.ts";
import { json, newRouter } from "../router.ts";
import { NameParam, problems, VmRecord } from "../schemas.ts";

const tags = ["snapshots"];
const SnapshotRecord = SnapshotRecordSchema.meta({ id: "SnapshotRecord" });
const SnapshotList = SnapshotListSchema.meta({ id: "SnapshotList" });
const CreateSnapshotBody = CreateSnapshotBodySchema.meta({ id: "CreateSnapshotBody" });
const RestoreVmBody = RestoreVmBodySchema.meta({ id: "RestoreVmBody" });

const createSpec = (path: string) =>
  createRoute({
    method: "post",
    path,
    tags,
    summary: "Snapshot a running VM: pause, save device state, RAM and disk overlays, " +
      "then resume (or stop with stop=true)",
    request: { params: NameParam, body: { required: false, content: json(CreateSnapshotBody) } },
    responses: {
      201: { description: "The snapshot", content: json(SnapshotRecord) },
      ...problems(400, 404, 409, 501, 502),
    },
  });
const create = createSpec("/{name}/snapshots");
const createAlias = createSpec("/{name}/snapshot");

const list = createRoute({
  method: "get",
  path: "/{name}/snapshots",
  tags,
  summary: "The VM's snapshots, oldest first",
  request: { params: NameParam },
  responses: {
    200: { description: "Snapshots", content: json(SnapshotList) },
    ...problems(400, 404),
  },
});

const show = createRoute({
  method: "get",
  path: "/{name}/snapshots/{snapshot}",
  tags,
  summary: "One snapshot",
  request: { params: SnapshotParamSchema },
  responses: {
    200: { description: "The snapshot", content: json(SnapshotRecord) },
    ...problems(400, 404),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/{name}/snapshots/{snapshot}",
  tags,
  summary: "Delete a snapshot",
  request: { params: SnapshotParamSchema },
  responses: { 204: { description: "Deleted" }, ...problems(400, 404) },
});

const restore = createRoute({
  method: "post",
  path: "/{name}/restore",
  tags,
  summary: "Restore a stopped VM from one of its snapshots (checksums, VMM, kernel and agent " +
    "versions checked first)",
  request: { params: NameParam, body: { required: true, content: json(RestoreVmBody) } },
  responses: {
    200: { description: "The VM, running again", content: json(VmRecord) },
    ...problems(400, 404, 409, 422, 501, 502),
  },
});

/** The snapshot routes, mounted under /api/v1/vms. */
export function snapshotRoutes(service?: SnapshotServiceApi) {
  const app = newRouter();
  const snapshots: SnapshotServiceApi = new Proxy({} as SnapshotServiceApi, {
    get: (_, key: keyof SnapshotServiceApi) => {
      if (!service) throw new VolantError("unavailable", "snapshots are not available here");
      return service[key].bind(service);
    },
  });
  for (const route of [create, createAlias]) {
    app.openapi(route, async (c) => {
      const { name } = c.req.valid("param");
      // The body is optional: no body = defaults. The service validates it (problem+json).
      const text = await c.req.text();
      const rec = await snapshots.create(name, text.trim() ? parseJson(text) : {});
      c.header("Location", `/api/v1/vms/${name}/snapshots/${rec.name}`);
      return c.json(rec, 201);
    });
  }
  app.openapi(list, async (c) => {
    return c.json({ items: await snapshots.list(c.req.valid("param").name) }, 200);
  });
  app.openapi(show, async (c) => {
    const { name, snapshot } = c.req.valid("param");
    return c.json(await snapshots.get(name, snapshot), 200);
  });
  app.openapi(remove, async (c) => {
    const { name, snapshot } = c.req.valid("param");
    await snapshots.remove(name, snapshot);
    return c.body(null, 204);
  });
  app.openapi(restore, async (c) => {
    const { name } = c.req.valid("param");
    return c.json(await snapshots.restore(name, c.req.valid("json")), 200);
  });
  return app;
}

function parseJson(text: string): never {
  try {
    return JSON.parse(text) as never;
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    throw new VolantError("invalid_input", `request body is not JSON: ${e.message}`, {
      problems: [{ field: "body", message: "must be a JSON object" }],
    });
  }
}

const warmTags = ["plugins"];
const warm = createRoute({
  method: "post",
  path: "/{name}/warm",
  tags: warmTags,
  summary: "Take the plugin's ready snapshot (boot, healthy, identity hand-off checked, " +
    "snapshot): later creates restore clones of it",
  request: { params: NameParam },
  responses: {
    201: { description: "The ready snapshot", content: json(SnapshotRecord) },
    ...problems(400, 404, 409, 501, 502),
  },
});
const warmShow = createRoute({
  method: "get",
  path: "/{name}/warm",
  tags: warmTags,
  summary: "The plugin's ready snapshot",
  request: { params: NameParam },
  responses: {
    200: { description: "The ready snapshot", content: json(SnapshotRecord) },
    ...problems(400, 404),
  },
});
const warmRemove = createRoute({
  method: "delete",
  path: "/{name}/warm",
  tags: warmTags,
  summary: "Drop the plugin's ready snapshot (creates boot cold again)",
  request: { params: NameParam },
  responses: { 204: { description: "Removed" }, ...problems(400, 404) },
});

/** Warm start routes, mounted under /api/v1/plugins. */
export function pluginWarmRoutes(service?: SnapshotServiceApi) {
  const app = newRouter();
  const svc = (): SnapshotServiceApi => {
    if (!service) throw new VolantError("unavailable", "snapshots are not available here");
    return service;
  };
  app.openapi(warm, async (c) => c.json(await svc().warm(c.req.valid("param").name), 201));
  app.openapi(warmShow, async (c) => c.json(await svc().warmInfo(c.req.valid("param").name), 200));
  app.openapi(warmRemove, async (c) => {
    await svc().unwarm(c.req.valid("param").name);
    return c.body(null, 204);
  });
  return app;
}
