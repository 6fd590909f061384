/**
 * The validation hook given to every zod-validated route: a failed parse
 * becomes an `invalid_input` problem naming each field (bare names for the
 * body; `query.`/`path.`/`header.` prefixes for the other parts).
 *
 * @module
 */
import { z } from "zod";
import { type FieldProblem, VolantError } from "../../errors.ts";
import { problemsFromZod } from "../../manifest/validate.ts";

const PREFIX: Record<string, string> = {
  json: "",
  form: "",
  query: "query",
  param: "path",
  header: "header",
  cookie: "cookie",
};
const WHERE: Record<string, string> = {
  json: "request body",
  form: "request body",
  query: "query string",
  param: "path",
  header: "headers",
  cookie: "cookies",
};

/** Result shape handed to the hook by @hono/zod-openapi (`data` = the raw input). */
export type HookResult =
  | { success: true; target: string }
  | { success: false; error: z.ZodError; target: string; data?: unknown };

/** The raw value at `path` inside `data`, or undefined. */
function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = data;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/**
 * Field problems for a failed parse. zod 4 does not report the input on
 * issues, so "is required" is decided here from the raw data: a present but
 * wrongly typed value keeps zod's own message ("expected number, received NaN").
 */
export function fieldProblems(error: z.ZodError, data: unknown, prefix: string): FieldProblem[] {
  const join = (path: readonly PropertyKey[]) =>
    [prefix, ...path.map(String)].filter((s) => s.length > 0).join(".") || "(root)";
  const out: FieldProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === "invalid_type") {
      const present = data !== undefined && valueAt(data, issue.path) !== undefined;
      out.push({ field: join(issue.path), message: present ? issue.message : "is required" });
    } else {
      out.push(...problemsFromZod(new z.ZodError([issue]), prefix));
    }
  }
  return out;
}

/** Throws a field-naming `invalid_input` error for a failed validation; passes otherwise. */
export function validationHook(result: HookResult): void {
  if (result.success) return;
  const problems = fieldProblems(result.error, result.data, PREFIX[result.target] ?? result.target);
  const summary = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
  throw new VolantError(
    "invalid_input",
    `invalid ${WHERE[result.target] ?? result.target}: ${summary}`,
    { problems },
  );
}
