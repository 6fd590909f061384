/**
 * Response checking: every body from volantd is checked against the shared
 * schema; a mismatch is an `upstream` error naming the field.
 *
 * Without zod on the way: the answer is matched against the schema's JSON
 * Schema (response_schemas.json, generated from the zod schemas by `deno
 * task openapi`), which is all a CLI call needs; only when that rejects it
 * does the zod schema load (zod_schemas.ts) to name the field, so `volar vms
 * list` starts without zod (docs/development.md, "CLI start-up").
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { type JsonSchema, matches } from "./json_schema.ts";
import SCHEMAS from "./response_schemas.json" with { type: "json" };
import type { ResponseName, ResponseTypes } from "./zod_schemas.ts";

export type { ResponseName, ResponseTypes };

/** Checks `data` against the named response schema; a mismatch is an `upstream` error. */
export async function checkResponse<N extends ResponseName>(
  name: N,
  data: unknown,
  what: string,
): Promise<ResponseTypes[N]> {
  if (matches((SCHEMAS as Record<string, JsonSchema>)[name], data)) {
    return data as ResponseTypes[N];
  }
  const { RESPONSE_ZOD } = await import("./zod_schemas.ts");
  const result = RESPONSE_ZOD[name].safeParse(data);
  // zod has the last word (the JSON Schema cannot say everything zod checks the same way).
  if (result.success) return data as ResponseTypes[N];
  const { problemsFromZod } = await import("../manifest/validate.ts");
  const problems = problemsFromZod(result.error);
  const first = problems[0];
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : "";
  throw new VolantError(
    "upstream",
    `unexpected ${what} from volantd: ${first?.field}: ${first?.message}${more}`,
    { details: { problems } },
  );
}
