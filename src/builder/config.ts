/**
 * Loading fledge.toml: read, decode with smol-toml (syntax errors keep their line
 * and column), validate with the strict schema in src/manifest/fledge.ts, and
 * refuse what is recognised but not built yet (oci_rootfs, container sources).
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import { VolantError } from "../errors.ts";
import { type FledgeConfig, parseFledgeConfig } from "../manifest/fledge.ts";

/** A validated config and where it lives. */
export interface LoadedConfig {
  config: FledgeConfig;
  /** Absolute path of the file. */
  path: string;
  /** Directory relative paths in the file resolve against. */
  dir: string;
}

/** Decodes TOML text; a syntax error names the line and column. */
export function decodeToml(text: string): unknown {
  try {
    return parse(text);
  } catch (error) {
    if (error instanceof TomlError) {
      const first = error.message.split("\n")[0];
      throw new VolantError(
        "invalid_input",
        `line ${error.line}, column ${error.column}: ${first}`,
        {
          problems: [{ field: `line ${error.line}:${error.column}`, message: first }],
          cause: error,
        },
      );
    }
    throw error;
  }
}

/** Reads and validates `file` (schema only: referenced files are checked by the build). */
export function loadConfig(file: string): LoadedConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new VolantError("not_found", `${file} does not exist (fledge init writes a starter)`, {
        cause: error,
      });
    }
    throw error;
  }
  const config = parseFledgeConfig(decodeToml(text));
  return { config, path, dir: dirname(path) };
}

/** Throws not_implemented for strategies and sources fledge recognises but cannot build yet. */
export function assertBuildable(config: FledgeConfig): void {
  if (config.strategy !== "initramfs") {
    throw new VolantError(
      "not_implemented",
      `strategy "${config.strategy}" is not implemented yet; only "initramfs" builds`,
      { problems: [{ field: "strategy", message: `"${config.strategy}" is not implemented yet` }] },
    );
  }
  for (const key of ["image", "dockerfile", "context", "target", "build_args"] as const) {
    if (config.source?.[key] !== undefined) {
      throw new VolantError(
        "not_implemented",
        `source.${key}: container-image sources are not implemented yet`,
        {
          problems: [{
            field: `source.${key}`,
            message: "container-image sources are not implemented yet",
          }],
        },
      );
    }
  }
}
