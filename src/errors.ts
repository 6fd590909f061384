/**
 * One error family for the whole toolchain. Every expected failure is a
 * `VolantError` with a `code`; the code alone decides the CLI exit code and the
 * HTTP status, in the two tables below and nowhere else.
 *
 * @module
 */

/** The closed set of error codes. */
export type ErrorCode =
  | "invalid_input"
  | "usage"
  | "not_found"
  | "conflict"
  | "unauthorized"
  | "forbidden"
  | "checksum_mismatch"
  | "upstream"
  | "unavailable"
  | "not_implemented"
  | "exhausted"
  | "too_large"
  | "internal";

/** One problem with one field of an input; `field` is a dotted path such as `initramfs.checksum`. */
export interface FieldProblem {
  field: string;
  message: string;
}

/** Options for {@linkcode VolantError}. */
export interface VolantErrorOptions {
  /** Per-field problems, for validation errors. */
  problems?: FieldProblem[];
  /** The underlying error, if any. */
  cause?: unknown;
  /** Extra machine-readable members for the problem+json body. */
  details?: Record<string, unknown>;
}

/** The error every Volant component throws for an expected failure. */
export class VolantError extends Error {
  readonly code: ErrorCode;
  readonly problems: FieldProblem[];
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: VolantErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "VolantError";
    this.code = code;
    this.problems = options.problems ?? [];
    this.details = options.details ?? {};
  }
}

/** Exit codes of the CLI personas, by error code. 0 is success; 2 is also bad usage. */
export const EXIT_CODES: Readonly<Record<ErrorCode, number>> = {
  invalid_input: 2,
  usage: 2,
  not_found: 3,
  conflict: 4,
  exhausted: 4,
  unauthorized: 5,
  forbidden: 5,
  checksum_mismatch: 6,
  upstream: 7,
  unavailable: 8,
  not_implemented: 9,
  too_large: 2,
  internal: 1,
};

/** HTTP statuses of the API, by error code. */
export const HTTP_STATUSES: Readonly<Record<ErrorCode, number>> = {
  invalid_input: 400,
  usage: 400,
  not_found: 404,
  conflict: 409,
  exhausted: 409,
  unauthorized: 401,
  forbidden: 403,
  checksum_mismatch: 422,
  upstream: 502,
  unavailable: 503,
  not_implemented: 501,
  too_large: 413,
  internal: 500,
};

/** The error code for an HTTP status (used by the client to rebuild errors). */
export function codeForStatus(status: number): ErrorCode {
  for (const [code, s] of Object.entries(HTTP_STATUSES) as [ErrorCode, number][]) {
    if (s === status) return code;
  }
  if (status >= 500) return "internal";
  return "invalid_input";
}

/** Exit code for anything thrown: a VolantError maps by code, anything else is internal (1). */
export function exitCodeFor(error: unknown): number {
  return error instanceof VolantError ? EXIT_CODES[error.code] : 1;
}

/** True when `error` is a VolantError with `code`. */
export function isVolantError(error: unknown, code?: ErrorCode): error is VolantError {
  return error instanceof VolantError && (code === undefined || error.code === code);
}

/**
 * The one-line (or one line per field problem) rendering the CLI prints on stderr.
 * `prefix` is the persona name.
 */
export function renderCliError(prefix: string, error: unknown): string {
  if (error instanceof VolantError) {
    if (error.problems.length > 0) {
      return error.problems.map((p) => `${prefix}: ${p.field}: ${p.message}`).join("\n");
    }
    return `${prefix}: ${error.message}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `${prefix}: internal error: ${message}`;
}
