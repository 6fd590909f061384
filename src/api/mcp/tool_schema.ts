/**
 * Derives a tool's input and output JSON Schemas from the REST route it
 * calls: the route's path parameters, query and JSON body (the zod schemas
 * @hono/zod-openapi validates with) are merged into one object of
 * arguments; the 2xx JSON response schema becomes the output schema. A tool
 * whose route is gone, or whose inputs collide, throws here, so the MCP
 * tests fail as soon as REST changes leave MCP behind.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import type { ApiEnv } from "../types.ts";
import type { RestToolSpec } from "./tool_spec.ts";

/** A JSON Schema object (draft-07, as MCP clients validate with). */
export type JsonSchema = Record<string, unknown>;

/** Where each argument of a tool goes in the HTTP request. */
export interface ArgumentPlan {
  params: string[];
  query: string[];
  /** Body properties, or the single argument carrying the whole body. */
  body: string[];
  bodyWhole?: string;
}

/** A tool ready for tools/list and tools/call. */
export interface RestTool {
  spec: RestToolSpec;
  inputSchema: JsonSchema & { type: "object" };
  outputSchema?: JsonSchema & { type: "object" };
  plan: ArgumentPlan;
}

interface RouteConfig {
  method: string;
  path: string;
  request?: {
    params?: z.ZodType;
    query?: z.ZodType;
    body?: { content?: Record<string, { schema?: z.ZodType }> };
  };
  responses?: Record<string, { content?: Record<string, { schema?: z.ZodType }> }>;
}

/** The zod-openapi route definitions of `app` (every mounted sub-app's, with full paths). */
export function routeConfigs(app: OpenAPIHono<ApiEnv>): RouteConfig[] {
  const defs = app.openAPIRegistry.definitions as { type: string; route?: RouteConfig }[];
  return defs.filter((d) => d.type === "route" && d.route).map((d) => d.route!);
}

/**
 * zod -> JSON Schema with the root `$ref` (from a `.meta({ id })`) resolved,
 * since MCP wants `type: "object"` at the root.
 */
export function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const out = z.toJSONSchema(schema, { io, target: "draft-7", unrepresentable: "any" }) as
    & JsonSchema
    & { $ref?: string; definitions?: Record<string, JsonSchema> };
  const ref = /^#\/definitions\/(.+)$/.exec(out.$ref ?? "");
  if (!ref || !out.definitions) return out;
  const { [ref[1]]: root, ...rest } = out.definitions;
  const resolved: JsonSchema = { $schema: out.$schema, ...root };
  if (Object.keys(rest).length > 0) resolved.definitions = rest;
  return resolved;
}

function objectParts(
  schema: JsonSchema,
): { props: Record<string, JsonSchema>; required: string[] } {
  return {
    props: (schema.properties ?? {}) as Record<string, JsonSchema>,
    required: (schema.required ?? []) as string[],
  };
}

/** Builds one tool from its spec and the app's routes; throws when they no longer fit. */
export function buildRestTool(spec: RestToolSpec, routes: RouteConfig[]): RestTool {
  const route = routes.find((r) => r.method === spec.method && r.path === spec.path);
  if (!route) {
    throw new Error(
      `MCP tool ${spec.name}: no REST route ${spec.method.toUpperCase()} ${spec.path}`,
    );
  }
  const omit = new Set([...(spec.omit ?? []), ...Object.keys(spec.fixedQuery ?? {})]);
  const properties: Record<string, JsonSchema> = {};
  const required = new Set<string>();
  const plan: ArgumentPlan = { params: [], query: [], body: [] };
  let definitions: Record<string, JsonSchema> = {};
  const add = (where: "params" | "query" | "body", schema: JsonSchema) => {
    const { props, required: req } = objectParts(schema);
    for (const [key, value] of Object.entries(props)) {
      if (omit.has(key)) continue;
      if (key in properties) {
        throw new Error(`MCP tool ${spec.name}: argument ${key} is both in ${where} and elsewhere`);
      }
      const withDefault = spec.defaults && key in spec.defaults
        ? { ...value, default: spec.defaults[key] }
        : value;
      properties[key] = withDefault;
      plan[where].push(key);
      if (req.includes(key) && !(spec.defaults && key in spec.defaults)) required.add(key);
    }
    if (schema.definitions) definitions = { ...definitions, ...schema.definitions as object };
  };
  const req = route.request ?? {};
  if (req.params) add("params", jsonSchemaOf(req.params, "input"));
  if (req.query) add("query", jsonSchemaOf(req.query, "input"));
  const body = req.body?.content?.["application/json"]?.schema;
  if (body) {
    const schema = jsonSchemaOf(body, "input");
    if (spec.bodyArg !== undefined) {
      const { $schema: _s, definitions: defs, ...rest } = schema;
      if (defs) definitions = { ...definitions, ...defs as object };
      properties[spec.bodyArg] = rest;
      plan.bodyWhole = spec.bodyArg;
    } else if (schema.type === "object" && schema.properties) {
      add("body", schema);
    } else {
      throw new Error(
        `MCP tool ${spec.name}: the body is not an object with properties; set bodyArg`,
      );
    }
  }
  const inputSchema: JsonSchema & { type: "object" } = {
    type: "object",
    properties,
    ...(required.size > 0 ? { required: [...required] } : {}),
    additionalProperties: false,
  };
  if (Object.keys(definitions).length > 0) inputSchema.definitions = definitions;
  return { spec, inputSchema, outputSchema: outputOf(spec, route), plan };
}

function outputOf(
  spec: RestToolSpec,
  route: RouteConfig,
): (JsonSchema & { type: "object" }) | undefined {
  if ((spec.result ?? "json") !== "json") return undefined;
  const ok = Object.entries(route.responses ?? {}).find(([s]) => /^2\d\d$/.test(s));
  const schema = ok?.[1].content?.["application/json"]?.schema;
  if (!schema) throw new Error(`MCP tool ${spec.name}: the route has no 2xx JSON response`);
  const json = jsonSchemaOf(schema, "output");
  if (json.type !== "object") {
    throw new Error(`MCP tool ${spec.name}: the response is not a JSON object`);
  }
  const { $schema: _s, ...rest } = json;
  return rest as JsonSchema & { type: "object" };
}
