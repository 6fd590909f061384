import assert from "node:assert/strict";
import { fledgeJsonSchema } from "./schema_cmd.ts";

Deno.test("fledge schema: strict tables, required keys, both mapping forms", () => {
  const s = fledgeJsonSchema() as {
    additionalProperties: boolean;
    required: string[];
    properties: Record<string, { additionalProperties: { anyOf: { type: string }[] } }>;
  };
  assert.equal(s.additionalProperties, false);
  assert.deepEqual([...s.required].sort(), ["plugin", "strategy", "version", "workload"]);
  const forms = s.properties.mappings.additionalProperties.anyOf.map((f) => f.type);
  assert.deepEqual(forms, ["string", "object"]);
});
