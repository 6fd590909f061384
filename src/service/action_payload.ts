/**
 * Checks an action's payload against the JSON Schema its manifest declares
 * (`actions.<name>.payload_schema`), so a bad payload is a 400 naming the
 * field before anything reaches the guest. Compiled schemas are cached by
 * their text: manifests change rarely, payloads often.
 *
 * @module
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import { type FieldProblem, VolantError } from "../errors.ts";

const draft7 = new Ajv({ allErrors: true, strict: false });
const draft2020 = new Ajv2020({ allErrors: true, strict: false });
const cache = new Map<string, ValidateFunction>();
const CACHE_MAX = 256;

function compile(schema: Record<string, unknown>, where: string): ValidateFunction {
  const key = JSON.stringify(schema);
  const hit = cache.get(key);
  if (hit) return hit;
  const is2020 = typeof schema.$schema === "string" && schema.$schema.includes("2020-12");
  let fn: ValidateFunction;
  try {
    fn = (is2020 ? draft2020 : draft7).compile(schema);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new VolantError(
      "conflict",
      `${where}: the manifest's payload_schema is invalid: ${why}`,
      {
        cause,
        problems: [{ field: "payload_schema", message: `invalid JSON Schema: ${why}` }],
      },
    );
  }
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(key, fn);
  return fn;
}

/** `payload.a.b` for an ajv error, naming the missing or extra property where ajv knows it. */
function problemOf(e: ErrorObject): FieldProblem {
  const path = e.instancePath.split("/").slice(1).map((s) =>
    s.replace(/~1/g, "/").replace(/~0/g, "~")
  );
  const params = e.params as Record<string, unknown>;
  if (e.keyword === "required" && typeof params.missingProperty === "string") {
    return {
      field: ["payload", ...path, params.missingProperty].join("."),
      message: "is required",
    };
  }
  if (e.keyword === "additionalProperties" && typeof params.additionalProperty === "string") {
    return {
      field: ["payload", ...path, params.additionalProperty].join("."),
      message: "unknown property",
    };
  }
  return { field: ["payload", ...path].join("."), message: e.message ?? e.keyword };
}

/** Throws `invalid_input` naming each bad field when `payload` does not match `schema`. */
export function checkPayload(
  schema: Record<string, unknown> | undefined,
  payload: unknown,
  where: string,
): void {
  if (schema === undefined) return;
  const validate = compile(schema, where);
  if (validate(payload)) return;
  const problems = (validate.errors ?? []).map(problemOf);
  const summary = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
  throw new VolantError("invalid_input", `${where}: invalid payload: ${summary}`, { problems });
}
