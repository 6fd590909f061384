/**
 * Parsing with field-named problems, and normalisation. Pure: imports only zod.
 *
 * @module
 */
import type { z } from "zod";
import type { FieldProblem } from "../errors.ts";
import { VolantError } from "../errors.ts";
import { type PluginManifest, PluginManifestSchema } from "./plugin.ts";
import { dropVolantEmpties } from "./volant_compat.ts";
import { normalizeManifest } from "./normalize.ts";

/** Dotted path for a zod issue path: `disks.0.name`. */
function dotted(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join(".");
}

/** ` (got <value>)` for a refused scalar, so the message shows what was written. */
export function gotSuffix(input: unknown): string {
  if (input === undefined || (typeof input === "object" && input !== null)) return "";
  const text = JSON.stringify(input) ?? String(input);
  return ` (got ${text.length > 80 ? text.slice(0, 77) + "..." : text})`;
}

/** Flattens zod issues into one problem per field; unknown keys become one problem each. */
export function problemsFromZod(error: z.ZodError, prefix = ""): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const join = (field: string) => [prefix, field].filter((s) => s.length > 0).join(".");
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        problems.push({
          field: join(dotted([...issue.path, key])),
          message: "unknown key: remove it (docs/manifest.md lists every key)",
        });
      }
    } else if (issue.code === "invalid_type" && issue.input === undefined) {
      problems.push({ field: join(dotted(issue.path)) || "(root)", message: "is required" });
    } else if (issue.code === "invalid_union" || issue.code === "custom") {
      problems.push({ field: join(dotted(issue.path)) || "(root)", message: issue.message });
    } else {
      problems.push({
        field: join(dotted(issue.path)) || "(root)",
        message: issue.message + gotSuffix(issue.input),
      });
    }
  }
  return problems;
}

/** Parses `input` with `schema`, or throws an `invalid_input` VolantError naming each field. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  prefix = "",
): z.infer<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const problems = problemsFromZod(result.error, prefix);
  const summary = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
  throw new VolantError("invalid_input", `invalid ${what}: ${summary}`, { problems });
}

/** Result of {@linkcode validateManifest}. */
export type ManifestValidation =
  | { ok: true; manifest: PluginManifest }
  | { ok: false; problems: FieldProblem[] };

/** Validates and normalises a manifest without throwing. */
export function validateManifest(input: unknown): ManifestValidation {
  const result = PluginManifestSchema.safeParse(dropVolantEmpties(input), { reportInput: true });
  if (!result.success) return { ok: false, problems: problemsFromZod(result.error) };
  return { ok: true, manifest: normalizeManifest(result.data) };
}

/** Validates and normalises a manifest, throwing `invalid_input` with field problems. */
export function parseManifest(input: unknown): PluginManifest {
  return normalizeManifest(
    parseOrThrow(PluginManifestSchema, dropVolantEmpties(input), "plugin manifest"),
  );
}

export { normalizeManifest };
