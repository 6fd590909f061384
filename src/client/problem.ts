/**
 * Rebuilds a VolantError from an error response: RFC 9457 problem+json
 * (`detail`, `code`, field problems under `errors` or `problems`), or any
 * other body as plain text. The code comes from the body when it is one of
 * ours, else from the status (codeForStatus), so exit codes match the daemon.
 *
 * @module
 */
import {
  codeForStatus,
  type ErrorCode,
  EXIT_CODES,
  type FieldProblem,
  VolantError,
} from "../errors.ts";
import type { BufferedResponse } from "./unix_http.ts";

function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === "string" && Object.hasOwn(EXIT_CODES, v);
}

function fieldProblems(v: unknown): FieldProblem[] {
  if (!Array.isArray(v)) return [];
  const out: FieldProblem[] = [];
  for (const p of v) {
    if (
      p && typeof p === "object" && typeof p.field === "string" && typeof p.message === "string"
    ) {
      out.push({ field: p.field, message: p.message });
    }
  }
  return out;
}

/** The VolantError for a parsed problem body (any JSON object is accepted). */
export function errorFromProblem(status: number, body: unknown): VolantError {
  const b = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
  const code = isErrorCode(b.code) ? b.code : codeForStatus(status);
  const problems = fieldProblems(b.errors);
  const fromProblems = problems.length > 0 ? problems : fieldProblems(b.problems);
  const detail = typeof b.detail === "string" && b.detail.length > 0
    ? b.detail
    : typeof b.title === "string"
    ? b.title
    : typeof b.error === "string" // a non-Volant server's {"error": "..."}
    ? b.error
    : `HTTP ${status}`;
  const details: Record<string, unknown> = { status };
  for (const [k, v] of Object.entries(b)) {
    if (!["type", "title", "status", "detail", "code", "errors", "problems"].includes(k)) {
      details[k] = v;
    }
  }
  return new VolantError(code, detail, { problems: fromProblems, details });
}

/** Reads an error response into a VolantError; never throws for a bad body. */
export async function errorFromResponse(
  res: BufferedResponse,
  target: string,
): Promise<VolantError> {
  const error = await readError(res);
  if (res.status !== 401) return error;
  return new VolantError(
    error.code,
    `${error.message} (pass --token or VOLANT_TOKEN for ${target})`,
    { problems: error.problems, details: error.details },
  );
}

async function readError(res: BufferedResponse): Promise<VolantError> {
  const type = res.headers.get("content-type") ?? "";
  const text = await res.text();
  if (/json/i.test(type)) {
    try {
      return errorFromProblem(res.status, JSON.parse(text));
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
    }
  }
  const line = text.trim().split("\n")[0]?.slice(0, 200) ?? "";
  const message = line.length > 0 ? line : `HTTP ${res.status} ${res.statusText}`.trim();
  return new VolantError(codeForStatus(res.status), message, { details: { status: res.status } });
}
