/**
 * The validation hook given to every zod-validated route: a failed parse
 * becomes an `invalid_input` problem naming each field (bare names for the
 * body; `query.`/`path.`/`header.` prefixes for the other parts).
 *
 * @module
 */
import type { z } from "zod";
import { VolantError } from "../../errors.ts";
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

/** Result shape handed to the hook by @hono/zod-openapi. */
export type HookResult =
  | { success: true; target: string }
  | { success: false; error: z.ZodError; target: string };

/** Throws a field-naming `invalid_input` error for a failed validation; passes otherwise. */
export function validationHook(result: HookResult): void {
  if (result.success) return;
  const problems = problemsFromZod(result.error, PREFIX[result.target] ?? result.target);
  const summary = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
  throw new VolantError(
    "invalid_input",
    `invalid ${WHERE[result.target] ?? result.target}: ${summary}`,
    { problems },
  );
}
