/**
 * A small JSON Schema check (the subset z.toJSONSchema emits for the API's
 * response schemas), so checking an answer does not load zod: the client's
 * fast path (check.ts). It answers only yes or no; on no, check.ts asks the
 * zod schema itself for the field-level message.
 *
 * Keywords: type, properties, required, additionalProperties, propertyNames,
 * items, enum, const, anyOf, minimum, maximum, minLength, maxLength, pattern,
 * minItems, maxItems; annotations (description, default, format, title) are
 * not checked. {@linkcode unsupportedKeywords} lists anything else, and the
 * test of response_schemas.json keeps that list empty.
 *
 * @module
 */

/** A JSON Schema object (or `true`/`false`). */
export type JsonSchema = boolean | { [keyword: string]: unknown };

const CHECKED = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "propertyNames",
  "items",
  "enum",
  "const",
  "anyOf",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
]);
const ANNOTATIONS = new Set(["description", "default", "format", "title", "examples"]);

const patterns = new Map<string, RegExp>();

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case "object":
      return typeof v === "object" && v !== null && !Array.isArray(v);
    case "array":
      return Array.isArray(v);
    case "string":
      return typeof v === "string";
    case "integer":
      return Number.isInteger(v);
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "boolean":
      return typeof v === "boolean";
    case "null":
      return v === null;
    default:
      return false;
  }
}

/** Deep equality of JSON values (for enum and const). */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** True when `value` satisfies `schema`. */
export function matches(schema: JsonSchema, value: unknown): boolean {
  if (schema === true) return true;
  if (schema === false) return false;
  const s = schema;
  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type as string[] : [s.type as string];
    if (!types.some((t) => typeOk(t, value))) return false;
  }
  if (Array.isArray(s.enum) && !s.enum.some((e) => same(e, value))) return false;
  if ("const" in s && !same(s.const, value)) return false;
  if (Array.isArray(s.anyOf) && !s.anyOf.some((sub) => matches(sub as JsonSchema, value))) {
    return false;
  }
  if (typeof value === "number") {
    if (typeof s.minimum === "number" && value < s.minimum) return false;
    if (typeof s.maximum === "number" && value > s.maximum) return false;
  }
  if (typeof value === "string") {
    if (typeof s.minLength === "number" && value.length < s.minLength) return false;
    if (typeof s.maxLength === "number" && value.length > s.maxLength) return false;
    if (typeof s.pattern === "string") {
      let re = patterns.get(s.pattern);
      if (re === undefined) patterns.set(s.pattern, re = new RegExp(s.pattern));
      if (!re.test(value)) return false;
    }
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === "number" && value.length < s.minItems) return false;
    if (typeof s.maxItems === "number" && value.length > s.maxItems) return false;
    if (s.items !== undefined && !value.every((v) => matches(s.items as JsonSchema, v))) {
      return false;
    }
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return objectMatches(s, value as Record<string, unknown>);
  }
  return true;
}

function objectMatches(s: { [keyword: string]: unknown }, obj: Record<string, unknown>): boolean {
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  if (Array.isArray(s.required) && !s.required.every((k) => Object.hasOwn(obj, k))) return false;
  for (const [key, v] of Object.entries(obj)) {
    if (s.propertyNames !== undefined && !matches(s.propertyNames as JsonSchema, key)) {
      return false;
    }
    if (Object.hasOwn(props, key)) {
      if (!matches(props[key], v)) return false;
    } else if (
      s.additionalProperties !== undefined &&
      !matches(s.additionalProperties as JsonSchema, v)
    ) return false;
  }
  return true;
}

/** Keywords in `schema` (at any depth) that {@linkcode matches} does not know. */
export function unsupportedKeywords(schema: JsonSchema): string[] {
  const out = new Set<string>();
  const walk = (x: JsonSchema) => {
    if (typeof x === "boolean") return;
    for (const [k, v] of Object.entries(x)) {
      if (!CHECKED.has(k) && !ANNOTATIONS.has(k)) out.add(k);
      if (k === "properties") {
        for (const sub of Object.values(v as Record<string, JsonSchema>)) walk(sub);
      } else if (k === "anyOf") (v as JsonSchema[]).forEach(walk);
      else if (["items", "additionalProperties", "propertyNames"].includes(k)) {
        walk(v as JsonSchema);
      }
    }
  };
  walk(schema);
  return [...out].sort();
}
