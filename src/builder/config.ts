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
import { type FledgeFormat, formatOf, fromVolantV1, type V1Flags } from "./volant_v1.ts";

/** A validated config and where it lives. */
export interface LoadedConfig {
  config: FledgeConfig;
  /** Absolute path of the file. */
  path: string;
  /** Directory relative paths in the file resolve against. */
  dir: string;
  /** Which dialect the file was written in (docs/fledge.md). */
  format: FledgeFormat;
  /** The manifest.toml read for a Volant v1 file, if any. */
  template?: string;
}

/** How to read a Volant v1 file: its manifest.toml and the flags standing in for downloads. */
export interface LoadOptions extends Partial<V1Flags> {
  /** `-m FILE`: Volant's runtime template (default: manifest.toml beside the config, if present). */
  manifest?: string;
  /** `--busybox PATH`: a local static busybox in place of `[source]` busybox_url/path (offline builds). */
  busybox?: string;
}

/** Replaces the busybox source by a local file (the URL's sha256 pin no longer applies). */
function withBusybox(decoded: unknown, busybox: string | undefined): unknown {
  if (busybox === undefined || typeof decoded !== "object" || decoded === null) return decoded;
  const d = { ...(decoded as Record<string, unknown>) };
  const src = { ...(d.source as Record<string, unknown> | undefined) };
  delete src.busybox_url;
  delete src.busybox_sha256;
  d.source = { ...src, busybox_path: resolve(busybox) };
  return d;
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

function readText(file: string, what: string): string {
  try {
    return Deno.readTextFileSync(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new VolantError("not_found", `${file} does not exist${what}`, { cause: error });
    }
    throw error;
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Reads and validates `file` (schema only: referenced files are checked by the
 * build). A Volant v1 file is converted first (src/builder/volant_v1.ts).
 */
export function loadConfig(file: string, opts: LoadOptions = {}): LoadedConfig {
  const path = resolve(file);
  const dir = dirname(path);
  const decoded = withBusybox(
    decodeToml(readText(file, " (fledge init writes a starter)")),
    opts.busybox,
  );
  const format = formatOf(decoded);
  if (format === "volant-ts") {
    if (opts.manifest !== undefined) {
      throw new VolantError(
        "usage",
        "-m/--manifest reads Volant's manifest.toml for a Volant v1 fledge.toml; " +
          `${file} has [plugin] and [workload], which already say it`,
      );
    }
    return { config: parseFledgeConfig(decoded), path, dir, format };
  }
  let template: string | undefined;
  if (opts.manifest !== undefined) template = resolve(opts.manifest);
  else if (isFile(resolve(dir, "manifest.toml"))) template = resolve(dir, "manifest.toml");
  const tpl = template === undefined
    ? undefined
    : decodeToml(readText(template, " (-m names Volant's manifest.toml)")) as Record<
      string,
      unknown
    >;
  const converted = fromVolantV1(decoded as Record<string, unknown>, tpl, dir, {
    forBuild: opts.forBuild ?? false,
    agent: opts.agent,
    agentSha256: opts.agentSha256,
    init: opts.init,
    noInit: opts.noInit,
  });
  return { config: parseFledgeConfig(converted), path, dir, format, template };
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
