/**
 * MCP tools cannot drift from REST: each tool's arguments are exactly its
 * route's path, query and body inputs in the served OpenAPI document, every
 * REST route is either offered as a tool or listed here as deliberately
 * not offered, and a tool whose route is gone fails to build.
 */
import assert from "node:assert/strict";
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { apiFixture } from "../testing/fixtures.ts";
import type { ApiEnv } from "../types.ts";
import { buildRestTools, REST_TOOLS } from "./mod.ts";
import { screenText } from "./rest_tools.ts";
import { argumentField } from "./tool_result.ts";
import { buildRestTool, routeConfigs } from "./tool_schema.ts";

/** Routes with no tool, and why (a new route must be added to a tool or here). */
const NOT_TOOLS: Record<string, string> = {
  "get /healthz": "liveness probe",
  "get /api/v1/openapi.json": "the API's own document",
  "get /api/v1/plugins/{name}/manifest": "plugins_show carries the manifest",
  "post /api/v1/plugins/{name}/enabled": "plugins_enable / plugins_disable",
  "patch /api/v1/vms/{name}/config": "config patches stay with volar and REST for now",
  "get /api/v1/vms/{name}/config/history": "history stays with volar and REST for now",
  "get /api/v1/vms/{name}/agent/{path}": "raw proxy; actions are the tool",
  "post /api/v1/vms/{name}/agent/{path}": "raw proxy; actions are the tool",
  "put /api/v1/vms/{name}/agent/{path}": "raw proxy; actions are the tool",
  "patch /api/v1/vms/{name}/agent/{path}": "raw proxy; actions are the tool",
  "delete /api/v1/vms/{name}/agent/{path}": "raw proxy; actions are the tool",
  "get /ws/v1/vms/{name}/console": "interactive WebSocket; vms_console_snapshot",
  "get /api/v1/vms/{name}/exec/pty":
    "interactive WebSocket (a terminal); the exec tool runs commands",
  "get /api/v1/vms/{name}/files":
    "binary tar stream; read_file/write_file (through exec) cover single files",
  "put /api/v1/vms/{name}/files":
    "binary tar stream; read_file/write_file (through exec) cover single files",
  "get /api/v1/keys": "which signers to trust is a person's decision: volar keys",
  "post /api/v1/keys": "which signers to trust is a person's decision: volar keys",
  "get /api/v1/keys/{name}": "which signers to trust is a person's decision: volar keys",
  "delete /api/v1/keys/{name}": "which signers to trust is a person's decision: volar keys",
  "post /api/v1/vms/{name}/snapshot":
    "body name (snapshot) clashes with path name (VM): REST/volar",
  "post /api/v1/vms/{name}/snapshots":
    "body name (snapshot) clashes with path name (VM): REST/volar",
  "delete /api/v1/vms/{name}/snapshots/{snapshot}": "204 without a body: REST/volar",
  "delete /api/v1/plugins/{name}/warm": "204 without a body: REST/volar",
  "get /mcp": "MCP itself",
  "post /mcp": "MCP itself",
  "delete /mcp": "MCP itself",
};

type Op = {
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: { $ref?: string; properties?: object } }> };
};

Deno.test("mcp tools: arguments are exactly the routes' documented inputs", async () => {
  const f = await apiFixture();
  try {
    const doc = await (await f.unix("/api/v1/openapi.json")).json();
    const schemas = doc.components.schemas as Record<string, { properties?: object }>;
    for (const tool of buildRestTools(f.app)) {
      const { spec } = tool;
      const op = doc.paths[spec.path]?.[spec.method] as Op | undefined;
      assert.ok(op, `${spec.name}: ${spec.method} ${spec.path} is not in the OpenAPI document`);
      const skip = new Set([...(spec.omit ?? []), ...Object.keys(spec.fixedQuery ?? {})]);
      const want = new Set(
        (op.parameters ?? []).filter((p) => p.in === "path" || p.in === "query")
          .map((p) => p.name).filter((n) => !skip.has(n)),
      );
      const body = op.requestBody?.content["application/json"]?.schema;
      if (body && spec.bodyArg) want.add(spec.bodyArg);
      else if (body) {
        const resolved = body.$ref ? schemas[body.$ref.split("/").at(-1)!] : body;
        for (const k of Object.keys(resolved.properties ?? {})) want.add(k);
      }
      const got = Object.keys(tool.inputSchema.properties as object);
      assert.deepEqual(got.sort(), [...want].sort(), `${spec.name}: arguments drifted from REST`);
    }
  } finally {
    await f.close();
  }
});

Deno.test("mcp tools: every REST route is a tool or deliberately not one", async () => {
  const f = await apiFixture();
  try {
    const doc = await (await f.unix("/api/v1/openapi.json")).json();
    const covered = new Set(REST_TOOLS.map((t) => `${t.method} ${t.path}`));
    const missing: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths as Record<string, object>)) {
      for (const method of Object.keys(ops)) {
        const key = `${method} ${path}`;
        if (!covered.has(key) && !(key in NOT_TOOLS)) missing.push(key);
      }
    }
    assert.deepEqual(missing, [], "new REST routes need an MCP tool or an entry in NOT_TOOLS");
    const names = REST_TOOLS.map((t) => t.name);
    assert.equal(new Set(names).size, names.length, "tool names are unique");
    assert.ok(names.every((n) => /^[a-z][a-z0-9_]{0,63}$/.test(n)), names.join(","));
  } finally {
    await f.close();
  }
});

Deno.test("mcp tools: a changed route changes the tool; a removed one fails the build", () => {
  const app = new OpenAPIHono<ApiEnv>();
  const body = z.object({ name: z.string(), size: z.int().min(1) });
  app.openapi(
    createRoute({
      method: "post",
      path: "/things/{zone}",
      request: {
        params: z.object({ zone: z.string() }),
        query: z.object({ dry: z.enum(["true", "false"]).optional() }),
        body: { content: { "application/json": { schema: body } } },
      },
      responses: {
        201: {
          description: "made",
          content: { "application/json": { schema: z.object({ id: z.int() }) } },
        },
      },
    }),
    (c) => c.json({ id: 1 }, 201),
  );
  const spec = {
    name: "things_make",
    title: "t",
    description: "d",
    method: "post" as const,
    path: "/things/{zone}",
  };
  const tool = buildRestTool(spec, routeConfigs(app));
  assert.deepEqual(Object.keys(tool.inputSchema.properties as object), [
    "zone",
    "dry",
    "name",
    "size",
  ]);
  assert.deepEqual(tool.inputSchema.required, ["zone", "name", "size"]);
  assert.deepEqual(tool.plan, { params: ["zone"], query: ["dry"], body: ["name", "size"] });
  assert.deepEqual(tool.outputSchema?.required, ["id"]);
  assert.throws(
    () => buildRestTool({ ...spec, path: "/things/{zone}/gone" }, routeConfigs(app)),
    /things_make: no REST route POST \/things\/\{zone\}\/gone/,
  );
});

Deno.test("mcp tools: REST field names map to argument names; console text is cleaned", () => {
  assert.equal(argumentField("query.limit"), "limit");
  assert.equal(argumentField("path.name"), "name");
  assert.equal(argumentField("(root)", "payload"), "payload");
  assert.equal(argumentField("payload.verbose", "payload"), "payload.verbose");
  assert.equal(argumentField("path.name", "payload", { name: "vm" }), "vm");
  const esc = String.fromCharCode(27);
  assert.equal(screenText(`${esc}[1;32mok${esc}[0m\r\nline\rover\n`), "ok\nover\n");
});
