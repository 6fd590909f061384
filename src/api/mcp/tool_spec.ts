/**
 * What an MCP tool backed by a REST route is: the route (method + OpenAPI
 * path) and how arguments and results map onto it. The input and output
 * JSON Schemas are not written here: tool_schema.ts derives them from the
 * route's own zod schemas, so a REST change reaches MCP or fails the build.
 *
 * @module
 */

/** Hints MCP clients show to users (MCP ToolAnnotations). */
export interface ToolHints {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/** One REST-backed tool. */
export interface RestToolSpec {
  /** Tool name: `[a-z0-9_]`, unique. */
  name: string;
  title: string;
  description: string;
  method: "get" | "post" | "put" | "patch" | "delete";
  /** The route's OpenAPI path, e.g. `/api/v1/vms/{name}`. */
  path: string;
  /** Query values always sent and not offered as arguments (e.g. `follow=false`). */
  fixedQuery?: Record<string, string>;
  /** Route inputs the tool does not offer (streaming switches, resume headers). */
  omit?: string[];
  /** Argument defaults that differ from the route's (applied when absent). */
  defaults?: Record<string, unknown>;
  /** When the body is not an object with properties (a record): the argument carrying it. */
  bodyArg?: string;
  /** How a 2xx answer comes back: structured JSON (default), text, or nothing (204). */
  result?: "json" | "text" | "none";
  /** Rewrites a text result (the console snapshot drops control sequences). */
  transform?: (text: string) => string;
  annotations?: ToolHints;
}
