/**
 * Writes src/client/response_schemas.json, the JSON Schemas of the client's
 * responses generated from the shared zod schemas, which the client checks
 * answers against without loading zod (`deno task client-schemas`; `deno
 * task openapi` runs it too). With `--check` it only compares and exits 1 on
 * a difference.
 *
 * @module
 */
import { responseJsonSchemas } from "./zod_schemas.ts";

/** Where the checked-in schemas live. */
export const RESPONSE_SCHEMAS_PATH = new URL("./response_schemas.json", import.meta.url);

/** The file's text: stable key order as generated, two-space indent. */
export function responseSchemasText(): string {
  return `${JSON.stringify(responseJsonSchemas(), null, 2)}\n`;
}

if (import.meta.main) {
  const text = responseSchemasText();
  if (Deno.args.includes("--check")) {
    if (await Deno.readTextFile(RESPONSE_SCHEMAS_PATH) !== text) {
      console.error("src/client/response_schemas.json is out of date: run `deno task openapi`");
      Deno.exit(1);
    }
    console.log("src/client/response_schemas.json is up to date");
  } else {
    await Deno.writeTextFile(RESPONSE_SCHEMAS_PATH, text);
    console.log(`wrote ${RESPONSE_SCHEMAS_PATH.pathname}`);
  }
}
