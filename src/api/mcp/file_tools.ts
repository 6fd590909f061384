/**
 * MCP `read_file` and `write_file`: one file of a running VM, as text (or
 * base64). They run through the `exec` REST tool (`cat` in the guest, stdin
 * for writes), so auth, validation and the agent key are the exec route's.
 * Whole trees and binary bulk stay with `volar vms cp` (tar streams).
 *
 * @module
 */
import { type AppFetch, type Caller, toRequest } from "./dispatch.ts";
import type { JsonSchema, RestTool } from "./tool_schema.ts";
import { problemResult, resultFromProblem, textResult, type ToolResult } from "./tool_result.ts";

/** Largest file read_file returns (a model's context is the real limit). */
const READ_MAX = 4 * 1024 * 1024;

const VM = {
  type: "string",
  pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
  description: "a running VM",
};
const PATH = { type: "string", pattern: "^/", description: "absolute path in the guest" };
const ENCODING = {
  type: "string",
  enum: ["utf8", "base64"],
  description: "how `content` is written (default utf8)",
};

export interface FileTool {
  name: "read_file" | "write_file";
  title: string;
  description: string;
  inputSchema: JsonSchema & { type: "object" };
}

export const FILE_TOOLS: FileTool[] = [
  {
    name: "read_file",
    title: "Read a file in a VM",
    description: "The content of one file of a running VM (through its agent), as UTF-8 text, " +
      `or base64 with encoding=base64; at most ${READ_MAX} bytes.`,
    inputSchema: {
      type: "object",
      properties: { vm: VM, path: PATH, encoding: ENCODING },
      required: ["vm", "path"],
      additionalProperties: false,
    },
  },
  {
    name: "write_file",
    title: "Write a file in a VM",
    description: "Creates or replaces one file of a running VM (parent directories created), " +
      "with optional octal `mode` such as 0644.",
    inputSchema: {
      type: "object",
      properties: {
        vm: VM,
        path: PATH,
        content: { type: "string", description: "the file's content" },
        encoding: ENCODING,
        mode: { type: "string", pattern: "^0?[0-7]{3,4}$", description: "octal mode, e.g. 0644" },
      },
      required: ["vm", "path", "content"],
      additionalProperties: false,
    },
  },
];

function invalid(field: string, message: string): ToolResult {
  return problemResult("Invalid input", `${field}: ${message}`, [{ field, message }]);
}

/** Checks the arguments against the tool's own schema (the exec route checks the rest). */
function checkArgs(tool: FileTool, args: Record<string, unknown>): ToolResult | null {
  const props = tool.inputSchema.properties as Record<string, { pattern?: string }>;
  for (const k of Object.keys(args)) if (!(k in props)) return invalid(k, "unknown argument");
  for (const k of tool.inputSchema.required as string[]) {
    if (typeof args[k] !== "string") return invalid(k, "is required (a string)");
  }
  for (const [k, v] of Object.entries(args)) {
    if (typeof v !== "string") return invalid(k, "must be a string");
    const pattern = props[k].pattern;
    if (pattern && !new RegExp(pattern).test(v)) return invalid(k, `must match ${pattern}`);
  }
  if (args.encoding !== undefined && args.encoding !== "utf8" && args.encoding !== "base64") {
    return invalid("encoding", "must be utf8 or base64");
  }
  return null;
}

/** Runs read_file or write_file through the `exec` REST tool. */
export async function callFileTool(
  tool: FileTool,
  args: Record<string, unknown>,
  exec: RestTool,
  fetch: AppFetch,
  caller: Caller,
): Promise<ToolResult> {
  const bad = checkArgs(tool, args);
  if (bad) return bad;
  const path = args.path as string;
  const base64 = args.encoding === "base64";
  let body: Record<string, unknown>;
  if (tool.name === "read_file") {
    body = { name: args.vm, argv: ["head", "-c", String(READ_MAX + 1), "--", path] };
  } else {
    let bytes: Uint8Array;
    try {
      bytes = base64
        ? Uint8Array.fromBase64(args.content as string)
        : new TextEncoder().encode(args.content as string);
    } catch (_notBase64) {
      return invalid("content", "is not base64");
    }
    const script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1" && ' +
      'if [ -n "$2" ]; then chmod "$2" "$1"; fi';
    body = {
      name: args.vm,
      argv: ["sh", "-c", script, "write_file", path, (args.mode as string | undefined) ?? ""],
      stdin: bytes.toBase64(),
    };
  }
  const built = toRequest(exec, body);
  if (!(built instanceof Request)) return built;
  const headers = new Headers(built.headers);
  if (caller.authorization) headers.set("authorization", caller.authorization);
  const res = await fetch(new Request(built, { headers, signal: caller.signal }), {
    transport: caller.transport,
  });
  if (!res.ok) return await resultFromProblem(res, undefined, { name: "vm" });
  const out: Uint8Array[] = [];
  let err = "";
  let code = -1;
  for (const line of (await res.text()).split("\n")) {
    if (line.trim() === "") continue;
    const f = JSON.parse(line) as Record<string, unknown>;
    if (f.stream === "stdout") out.push(Uint8Array.fromBase64(f.data as string));
    else if (f.stream === "stderr") {
      err += new TextDecoder().decode(Uint8Array.fromBase64(f.data as string));
    } else if (typeof f.exit_code === "number") code = f.exit_code;
  }
  if (code !== 0) {
    return problemResult(`${tool.name} failed`, err.trim() || `exit code ${code}`, [
      { field: "path", message: err.trim() || `exit code ${code}` },
    ]);
  }
  if (tool.name === "write_file") return textResult(`wrote ${path}`);
  const size = out.reduce((n, c) => n + c.length, 0);
  if (size > READ_MAX) return invalid("path", `is larger than ${READ_MAX} bytes: use volar vms cp`);
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of out) {
    all.set(c, at);
    at += c.length;
  }
  return textResult(base64 ? all.toBase64() : new TextDecoder().decode(all));
}
