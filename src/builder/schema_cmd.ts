/**
 * `fledge schema`: a JSON Schema of fledge.toml generated from the zod validator
 * (so it cannot drift), for editors such as Taplo (`#:schema ./fledge.schema.json`).
 * It is looser than the validator where zod refinements have no JSON Schema form
 * (guest-path segments, cross-field rules); `fledge validate` stays the authority.
 *
 * @module
 */
import { z } from "zod";
import { FledgeConfigSchema } from "../manifest/fledge.ts";

/** The JSON Schema object. */
export function fledgeJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(FledgeConfigSchema, { io: "input", unrepresentable: "any" }) as {
    properties: Record<string, Record<string, unknown>>;
  } & Record<string, unknown>;
  // A mapping target is a guest path or a table; the preprocess step that turns the
  // string form into the table has no JSON Schema form, so spell out both.
  const mappings = schema.properties.mappings;
  mappings.additionalProperties = {
    anyOf: [{ type: "string", pattern: "^/" }, mappings.additionalProperties],
  };
  return { ...schema, title: "fledge.toml v1", description: "See docs/fledge.md" };
}
