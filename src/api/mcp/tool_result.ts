/**
 * Tool results: a 2xx answer as structured content (plus its JSON text, for
 * clients that only read text), and a problem+json answer as an MCP tool
 * error carrying the problem's title, detail and each field, so an agent can
 * correct the argument it got wrong.
 *
 * @module
 */
import type { FieldProblem } from "../../errors.ts";

/** The MCP CallToolResult shape (kept local: the SDK's type is a zod inference). */
export interface ToolResult {
  [key: string]: unknown;
  content: { type: "text"; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/** A successful structured result. */
export function jsonResult(value: Record<string, unknown>): ToolResult {
  return {
    content: [{ type: "text", text: JSON.stringify(value, null, 2) }],
    structuredContent: value,
  };
}

/** A successful text result. */
export function textResult(text: string): ToolResult {
  return { content: [{ type: "text", text }] };
}

/** A tool error from a problem's parts. */
export function problemResult(
  title: string,
  detail: string,
  problems: FieldProblem[],
  extra: Record<string, unknown> = {},
): ToolResult {
  const lines = [`${title}: ${detail}`, ...problems.map((p) => `${p.field}: ${p.message}`)];
  const problem = { title, detail, problems, ...extra };
  return {
    content: [
      { type: "text", text: lines.join("\n") },
      { type: "text", text: JSON.stringify(problem) },
    ],
    isError: true,
  };
}

/**
 * Maps a REST field (`query.limit`, `path.name`, `(root)`) to the tool's
 * argument name; `renames` maps REST argument names to a wrapping tool's own.
 */
export function argumentField(
  field: string,
  bodyArg?: string,
  renames: Record<string, string> = {},
): string {
  if (field === "(root)" && bodyArg !== undefined) return bodyArg;
  const bare = field.replace(/^(query|path)\./, "");
  const [head, ...rest] = bare.split(".");
  return Object.hasOwn(renames, head) ? [renames[head], ...rest].join(".") : bare;
}

/** A tool error from a problem+json response. */
export async function resultFromProblem(
  res: Response,
  bodyArg?: string,
  renames?: Record<string, string>,
): Promise<ToolResult> {
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    return problemResult(`HTTP ${res.status}`, text.slice(0, 500), []);
  }
  const raw = Array.isArray(body.problems) ? body.problems as FieldProblem[] : [];
  const problems = raw.map((p) => ({
    field: argumentField(p.field, bodyArg, renames),
    message: p.message,
  }));
  const { title, detail, problems: _p, errors: _e, ...extra } = body;
  return problemResult(
    typeof title === "string" ? title : `HTTP ${res.status}`,
    typeof detail === "string" ? detail : "",
    problems,
    { status: res.status, ...extra },
  );
}
