/**
 * Request generation for the API fuzz test: values from the OpenAPI
 * document's JSON Schemas (so every documented route and field is reached),
 * then hostile mutations (wrong types, huge and deep values, traversal and
 * injection strings, broken JSON). Deterministic: a seeded PRNG.
 *
 * @module
 */

/** mulberry32: small, fast, good enough to spread test inputs. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rng = () => number;
// deno-lint-ignore no-explicit-any
export type Schema = Record<string, any>;

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];

/** Marks every string the fuzzer invents, so files it might cause can be found afterwards. */
export const MARK = "fz9mark";

/** Strings an attacker tries first. */
export const HOSTILE_STRINGS: readonly string[] = [
  "",
  " ",
  "..",
  "../../../../etc/passwd",
  `/tmp/${MARK}`,
  `${MARK}/../../x`,
  "/proc/self/mem",
  "/dev/zero",
  "/etc/shadow",
  "%2e%2e%2f",
  "a\u0000b",
  "\u202e\ufeff",
  "🙂".repeat(40),
  "x".repeat(70_000),
  "' OR 1=1 --",
  "${jndi:x}",
  "http://169.254.169.254/latest/meta-data/",
  "http://[::1",
  "http://127.0.0.1:99999/",
  "file:///etc/shadow",
  "-1",
  "1e309",
  "NaN",
  "true",
];

function genString(s: Schema, rng: Rng): string {
  if (s.enum) return pick(rng, s.enum);
  if (s.format === "uri" || /url/i.test(s.description ?? "")) {
    return pick(rng, [`http://127.0.0.1:9/${MARK}`, `file:///tmp/${MARK}.json`]);
  }
  if (s.pattern && rng() < 0.5) return `${MARK}${Math.floor(rng() * 1000)}`;
  const len = Math.floor(rng() * Math.min(s.maxLength ?? 24, 24)) + (s.minLength ?? 1);
  let out = MARK;
  while (out.length < len) out += pick(rng, "abcdefghijklmnopqrstuvwxyz0123456789-".split(""));
  return out.slice(0, Math.max(len, 1)).toLowerCase();
}

/** A value that satisfies `schema` often and comes close otherwise. */
export function generate(schema: Schema | undefined, rng: Rng, root: Schema, depth = 0): unknown {
  if (!schema || depth > 6) return null;
  if (schema.$ref) {
    const name = String(schema.$ref).split("/").pop()!;
    return generate(root.components?.schemas?.[name], rng, root, depth + 1);
  }
  const alts = schema.anyOf ?? schema.oneOf;
  if (alts) return generate(pick(rng, alts), rng, root, depth + 1);
  if (schema.allOf) return generate(schema.allOf[0], rng, root, depth + 1);
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return pick(rng, schema.enum);
  const type = Array.isArray(schema.type) ? pick(rng, schema.type) : schema.type;
  switch (type) {
    case "string":
      return genString(schema, rng);
    case "integer":
    case "number": {
      const min = schema.minimum ?? 0;
      const max = Math.min(schema.maximum ?? min + 1000, min + 1000);
      const n = min + rng() * (max - min);
      return type === "integer" ? Math.floor(n) : n;
    }
    case "boolean":
      return rng() < 0.5;
    case "array": {
      const n = Math.floor(rng() * 3);
      return Array.from({ length: n }, () => generate(schema.items, rng, root, depth + 1));
    }
    case "null":
      return null;
    case "object":
    default: {
      const out: Record<string, unknown> = {};
      const props: Record<string, Schema> = schema.properties ?? {};
      const required = new Set<string>(schema.required ?? []);
      for (const [k, v] of Object.entries(props)) {
        if (required.has(k) || rng() < 0.5) out[k] = generate(v, rng, root, depth + 1);
      }
      return out;
    }
  }
}

/** One hostile change to a value (or to its encoding): the second half of the fuzz. */
export function mutate(value: unknown, rng: Rng): unknown {
  const r = rng();
  if (r < 0.1) return pick(rng, HOSTILE_STRINGS);
  if (r < 0.15) return null;
  if (r < 0.2) return [value, value];
  if (r < 0.25) return { [`${MARK}_extra`]: 1, ...(value as object) };
  if (r < 0.3) {
    let deep: unknown = 1;
    for (let i = 0; i < 3000; i++) deep = { a: deep };
    return { metadata: deep, manifest: deep };
  }
  if (r < 0.35) return -1 * 2 ** 60;
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const obj = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(obj);
    if (keys.length > 0) {
      const k = pick(rng, keys);
      obj[k] = rng() < 0.5 ? pick(rng, HOSTILE_STRINGS) : mutate(obj[k], rng);
    }
    return obj;
  }
  return pick(rng, HOSTILE_STRINGS);
}

/** Raw bodies that are not JSON at all. */
export const BROKEN_BODIES: readonly string[] = [
  "{",
  "[]",
  "null",
  '{"a":1,"a":2}',
  "\u0000\u0001",
  '{"name":"x"'.padEnd(5000, " "),
  "0".repeat(400_000),
];
