/**
 * Response checking: every body from volantd is validated against the
 * shared schema; a mismatch is an `upstream` error naming the field.
 *
 * @module
 */
import type { z } from "zod";
import { VolantError } from "../errors.ts";
import { problemsFromZod } from "../manifest/validate.ts";

/** Checks `data` against `schema`; a mismatch is an `upstream` error naming the fields. */
export function checkResponse<S extends z.ZodType>(
  schema: S,
  data: unknown,
  what: string,
): z.infer<S> {
  const result = schema.safeParse(data);
  if (result.success) return data as z.infer<S>;
  const problems = problemsFromZod(result.error);
  const first = problems[0];
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
  throw new VolantError(
    "upstream",
    `unexpected ${what} from volantd: ${first?.field}: ${first?.message}${more}`,
    { details: { problems } },
  );
}
