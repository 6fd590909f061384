/**
 * /api/v1/plugins: list, install, show, manifest, enable/disable, remove.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { VolantError } from "../../errors.ts";
import type { PluginServiceApi } from "../../service/contracts.ts";
import { json, newRouter } from "../router.ts";
import {
  InstallPluginBody,
  isTrue,
  NameParam,
  PluginEnabledBody,
  PluginInstallResult,
  PluginList,
  PluginManifest,
  PluginRecord,
  PluginRemoveQuery,
  problems,
} from "../schemas.ts";

const tags = ["plugins"];

const list = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List installed plugins",
  responses: { 200: { description: "Installed plugins", content: json(PluginList) } },
});

const install = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Install a plugin from a manifest body, a URL or a host path",
  description: "Verifies the manifest's minisign signature first (`signature`, `signature_url`, " +
    "else `<manifest>.minisig` beside it; 403 naming the key id when refused), then downloads " +
    "and sha256-verifies every artifact. The same version again is a no-op " +
    "(200, outcome `unchanged`); a new plugin or version answers 201.",
  request: { body: { required: true, content: json(InstallPluginBody) } },
  responses: {
    200: { description: "Same version already installed", content: json(PluginInstallResult) },
    201: { description: "Installed or updated", content: json(PluginInstallResult) },
    ...problems(400, 403, 404, 409, 422, 502),
  },
});

const show = createRoute({
  method: "get",
  path: "/{name}",
  tags,
  summary: "Show one plugin",
  request: { params: NameParam },
  responses: {
    200: { description: "The plugin", content: json(PluginRecord) },
    ...problems(400, 404),
  },
});

const manifest = createRoute({
  method: "get",
  path: "/{name}/manifest",
  tags,
  summary: "The plugin's normalised manifest (409 while disabled)",
  request: { params: NameParam },
  responses: {
    200: { description: "The manifest", content: json(PluginManifest) },
    ...problems(400, 404, 409),
  },
});

const setEnabled = createRoute({
  method: "post",
  path: "/{name}/enabled",
  tags,
  summary: "Enable or disable a plugin",
  request: { params: NameParam, body: { required: true, content: json(PluginEnabledBody) } },
  responses: {
    200: { description: "The updated plugin", content: json(PluginRecord) },
    ...problems(400, 404),
  },
});

const enable = createRoute({
  method: "post",
  path: "/{name}/enable",
  tags,
  summary: "Enable a plugin",
  request: { params: NameParam },
  responses: {
    200: { description: "The updated plugin", content: json(PluginRecord) },
    ...problems(400, 404),
  },
});

const disable = createRoute({
  method: "post",
  path: "/{name}/disable",
  tags,
  summary: "Disable a plugin",
  request: { params: NameParam },
  responses: {
    200: { description: "The updated plugin", content: json(PluginRecord) },
    ...problems(400, 404),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/{name}",
  tags,
  summary: "Remove a plugin (refused while VMs use it unless force=true)",
  request: { params: NameParam, query: PluginRemoveQuery },
  responses: { 204: { description: "Removed" }, ...problems(400, 404, 409) },
});

/** The plugins router. */
export function pluginRoutes(plugins: PluginServiceApi) {
  const app = newRouter();
  app.openapi(list, (c) => c.json({ items: plugins.list() }, 200));
  app.openapi(install, async (c) => {
    const result = await plugins.install(c.req.valid("json"), { signal: c.req.raw.signal });
    const status = result.outcome === "unchanged" ? 200 : 201;
    c.header("Location", `/api/v1/plugins/${result.plugin.name}`);
    return c.json(result, status);
  });
  app.openapi(show, (c) => c.json(plugins.get(c.req.valid("param").name), 200));
  app.openapi(manifest, (c) => {
    const p = plugins.get(c.req.valid("param").name);
    if (!p.enabled) {
      throw new VolantError("conflict", `plugin ${p.name} is disabled`, {
        problems: [{ field: "name", message: "plugin is disabled" }],
      });
    }
    return c.json(p.manifest, 200);
  });
  app.openapi(setEnabled, (c) => {
    const { name } = c.req.valid("param");
    return c.json(plugins.setEnabled(name, c.req.valid("json").enabled), 200);
  });
  app.openapi(enable, (c) => c.json(plugins.setEnabled(c.req.valid("param").name, true), 200));
  app.openapi(disable, (c) => c.json(plugins.setEnabled(c.req.valid("param").name, false), 200));
  app.openapi(remove, async (c) => {
    await plugins.remove(c.req.valid("param").name, { force: isTrue(c.req.valid("query").force) });
    return c.body(null, 204);
  });
  return app;
}
