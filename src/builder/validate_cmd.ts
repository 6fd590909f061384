/**
 * `fledge validate`: the schema check plus what can be checked without building:
 * the strategy is buildable and every host file the config names exists.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { initModeOf } from "../manifest/fledge.ts";
import { DEFAULT_BUSYBOX } from "./busybox.ts";
import { assertBuildable, loadConfig, type LoadOptions } from "./config.ts";
import { type FledgeFormat, FORMAT_NAMES } from "./volant_v1.ts";
import { hostPath } from "./mappings.ts";
import { existsSync } from "../shared/fs.ts";

/** What a valid config describes (the `--json` summary). */
export interface ValidateSummary {
  config: string;
  name: string;
  version: string;
  strategy: string;
  init: "shim" | "custom" | "none";
  mappings: number;
  /** Which dialect the file is in: ours or Volant fledge's v1. */
  format: FledgeFormat;
  format_name: string;
  /** The Volant manifest.toml that supplied name, resources and workload, if any. */
  template?: string;
  /** Set when the file is valid but this build of fledge cannot build it (why). */
  not_buildable?: string;
}

/** Validates `file`; throws a VolantError listing every missing host file. */
export function validateConfig(
  file: string,
  opts: LoadOptions & { schemaOnly?: boolean } = {},
): ValidateSummary {
  const { config, dir, path, format, template } = loadConfig(file, opts);
  let notBuildable: string | undefined;
  try {
    assertBuildable(config);
  } catch (error) {
    // A valid oci_rootfs file is still valid; say that this fledge cannot build it yet.
    if (!(error instanceof VolantError) || error.code !== "not_implemented") throw error;
    notBuildable = error.message;
  }
  const wanted: { field: string; path: string }[] = [];
  for (const src of Object.keys(config.mappings ?? {}).sort()) {
    wanted.push({ field: `mappings.${src}`, path: hostPath(dir, src) });
  }
  if (config.agent?.source_strategy === "local" && config.agent.path !== undefined) {
    wanted.push({ field: "agent.path", path: hostPath(dir, config.agent.path) });
  }
  if (config.source?.busybox_url === undefined) {
    const p = config.source?.busybox_path;
    wanted.push({
      field: p === undefined ? "source (default busybox)" : "source.busybox_path",
      path: p === undefined ? DEFAULT_BUSYBOX : hostPath(dir, p),
    });
  }
  const problems = wanted.filter((w) => !opts.schemaOnly && !existsSync(w.path)).map((w) => ({
    field: w.field,
    message: `${w.path} does not exist`,
  }));
  if (problems.length > 0) {
    throw new VolantError("not_found", problems.map((p) => `${p.field}: ${p.message}`).join("; "), {
      problems,
    });
  }
  return {
    config: path,
    name: config.plugin.name,
    version: config.plugin.version,
    strategy: config.strategy,
    init: initModeOf(config).kind,
    mappings: Object.keys(config.mappings ?? {}).length,
    format,
    format_name: FORMAT_NAMES[format],
    ...(template !== undefined ? { template } : {}),
    ...(notBuildable !== undefined ? { not_buildable: notBuildable } : {}),
  };
}
