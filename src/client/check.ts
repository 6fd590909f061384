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
import type { z } from "zod";
import { VolantError } from "../errors.ts";
import { type JsonSchema, matches } from "./json_schema.ts";
import SCHEMAS from "./response_schemas.json" with { type: "json" };
import type { ResponseName, ResponseTypes } from "./zod_schemas.ts";

export type { ResponseName, ResponseTypes };

/** What a check returns: the named response's type, or a zod schema's. */
export type Checked<S> = S extends ResponseName ? ResponseTypes[S]
  : S extends z.ZodType ? z.infer<S>
  : never;

/**
 * Checks `data` against the named response schema; a mismatch is an
 * `upstream` error. A zod schema is accepted too and checked with zod, but
 * importing one puts zod in volar's start-up: add it to `RESPONSE_ZOD`
 * (zod_schemas.ts), run `deno task openapi`, and pass its name instead.
 */
export async function checkResponse<S extends ResponseName | z.ZodType>(
  schema: S,
  data: unknown,
  what: string,
): Promise<Checked<S>> {
  let zod: z.ZodType;
  if (typeof schema === "string") {
    if (matches((SCHEMAS as Record<string, JsonSchema>)[schema], data)) return data as Checked<S>;
    zod = (await import("./zod_schemas.ts")).RESPONSE_ZOD[schema as ResponseName];
  } else zod = schema;
  const result = zod.safeParse(data);
  // zod has the last word (the JSON Schema cannot say everything zod checks the same way).
  if (result.success) return data as Checked<S>;
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
