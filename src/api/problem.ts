/**
 * RFC 9457 problem details: the one rendering of every API error. A
 * `VolantError`'s code picks the status (HTTP_STATUSES in src/errors.ts);
 * field problems become `errors: [{field, message}]` (also mirrored as
 * `problems`, the name the shared ProblemSchema uses).
 *
 * @module
 */
import { HTTPException } from "hono/http-exception";
import { type ErrorCode, type FieldProblem, HTTP_STATUSES, VolantError } from "../errors.ts";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Human titles per error code. */
const TITLES: Readonly<Record<ErrorCode, string>> = {
  invalid_input: "Invalid input",
  usage: "Bad request",
  not_found: "Not found",
  conflict: "Conflict",
  exhausted: "Resource exhausted",
  unauthorized: "Unauthorized",
  forbidden: "Forbidden",
  checksum_mismatch: "Checksum mismatch",
  upstream: "Upstream failure",
  unavailable: "Service unavailable",
  not_implemented: "Not implemented",
  too_large: "Payload too large",
  internal: "Internal error",
};

/** The body of a problem+json response. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: ErrorCode;
  errors: FieldProblem[];
  problems: FieldProblem[];
  [extra: string]: unknown;
}

/** The `type` URI of a problem, one per error code. */
export function problemType(code: ErrorCode): string {
  return `urn:volant:problem:${code}`;
}

/** Error code for a bare HTTP status (from HTTPException and the like). */
function codeForHttpStatus(status: number): ErrorCode {
  for (const [code, s] of Object.entries(HTTP_STATUSES) as [ErrorCode, number][]) {
    if (s === status) return code;
  }
  return status >= 500 ? "internal" : "invalid_input";
}

/**
 * Turns anything thrown into a VolantError. Hono's HTTPException (e.g.
 * malformed JSON in a body) keeps its status; unknown errors become
 * `internal` with a generic message, so nothing internal leaks to clients.
 */
export function toVolantError(error: unknown): { error: VolantError; status: number } {
  if (error instanceof VolantError) return { error, status: HTTP_STATUSES[error.code] };
  if (error instanceof HTTPException) {
    const code = codeForHttpStatus(error.status);
    const message = error.message || TITLES[code];
    return { error: new VolantError(code, message, { cause: error }), status: error.status };
  }
  return {
    error: new VolantError("internal", "internal error", { cause: error }),
    status: 500,
  };
}

/** Builds the problem body for `error` at `instance` (the request path). */
export function problemBody(
  error: VolantError,
  status: number,
  instance: string,
  title?: string,
): ProblemBody {
  const body: ProblemBody = {
    ...error.details,
    type: problemType(error.code),
    title: title ?? TITLES[error.code],
    status,
    detail: error.message,
    instance,
    code: error.code,
    errors: error.problems,
    problems: error.problems,
  };
  return body;
}

/** A complete problem+json response. */
export function problemResponse(
  error: VolantError,
  status: number,
  instance: string,
  headers: HeadersInit = {},
  title?: string,
): Response {
  const h = new Headers(headers);
  h.set("content-type", PROBLEM_CONTENT_TYPE);
  const body = JSON.stringify(problemBody(error, status, instance, title));
  return new Response(body, { status, headers: h });
}
