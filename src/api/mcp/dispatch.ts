/**
 * Runs a REST-backed tool by sending its request through the API app itself
 * (in process, no socket): the route validates the arguments with its zod
 * schemas, calls the service, and answers exactly as it answers HTTP
 * clients. The caller's transport and Authorization header go along, so
 * auth is checked again for every call.
 *
 * @module
 */
import type { Transport } from "../types.ts";
import type { RestTool } from "./tool_schema.ts";
import {
  jsonResult,
  problemResult,
  resultFromProblem,
  textResult,
  type ToolResult,
} from "./tool_result.ts";

/** The app's fetch, as the listeners call it. */
export type AppFetch = (
  req: Request,
  env: { transport: Transport },
) => Response | Promise<Response>;

/** Who is calling (from the MCP HTTP request that carried the call). */
export interface Caller {
  transport: Transport;
  authorization?: string;
  signal?: AbortSignal;
}

/** How a tool that wraps another names its arguments (REST name -> its own), for errors. */
export type Renames = Record<string, string>;

function queryValue(v: unknown): string {
  return typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v);
}

/** The HTTP request a tool call becomes, or a tool error for arguments REST cannot see. */
export function toRequest(
  tool: RestTool,
  args: Record<string, unknown>,
): Request | ToolResult {
  const { spec, plan, inputSchema } = tool;
  const known = inputSchema.properties as Record<string, unknown>;
  const unknown = Object.keys(args).filter((k) => !(k in known));
  if (unknown.length > 0) {
    return problemResult(
      "Invalid input",
      `unknown argument${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}`,
      unknown.map((field) => ({ field, message: "unknown argument" })),
    );
  }
  const values = { ...spec.defaults, ...args };
  const missing = plan.params.filter((p) => values[p] === undefined || values[p] === "");
  if (missing.length > 0) {
    return problemResult(
      "Invalid input",
      `missing ${missing.join(", ")}`,
      missing.map((field) => ({ field, message: "is required" })),
    );
  }
  let path = spec.path;
  for (const p of plan.params) {
    path = path.replace(`{${p}}`, encodeURIComponent(queryValue(values[p])));
  }
  const url = new URL(path, "http://volantd");
  for (const [k, v] of Object.entries(spec.fixedQuery ?? {})) url.searchParams.set(k, v);
  for (const q of plan.query) {
    if (values[q] !== undefined) url.searchParams.set(q, queryValue(values[q]));
  }
  const headers: Record<string, string> = { accept: "application/json" };
  let body: string | undefined;
  if (plan.bodyWhole !== undefined) {
    body = JSON.stringify(values[plan.bodyWhole] ?? {});
  } else if (plan.body.length > 0) {
    const obj: Record<string, unknown> = {};
    for (const k of plan.body) if (values[k] !== undefined) obj[k] = values[k];
    body = JSON.stringify(obj);
  }
  if (body !== undefined) headers["content-type"] = "application/json";
  return new Request(url, { method: spec.method.toUpperCase(), headers, body });
}

/** Calls the tool through `fetch` (the API app) on behalf of `caller`. */
export async function callRestTool(
  tool: RestTool,
  args: Record<string, unknown>,
  fetch: AppFetch,
  caller: Caller,
  renames?: Renames,
): Promise<ToolResult> {
  const built = toRequest(tool, args);
  if (!(built instanceof Request)) return built;
  const headers = new Headers(built.headers);
  if (caller.authorization) headers.set("authorization", caller.authorization);
  const req = new Request(built, { headers, signal: caller.signal });
  const res = await fetch(req, { transport: caller.transport });
  if (!res.ok) return await resultFromProblem(res, tool.plan.bodyWhole, renames);
  const kind = tool.spec.result ?? "json";
  if (kind === "none") {
    await res.body?.cancel();
    return textResult(`done (HTTP ${res.status})`);
  }
  const text = await res.text();
  if (kind === "text") return textResult(tool.spec.transform ? tool.spec.transform(text) : text);
  return jsonResult(JSON.parse(text) as Record<string, unknown>);
}
