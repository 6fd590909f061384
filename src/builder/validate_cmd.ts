/**
 * `fledge validate`: the schema check plus what can be checked without building:
 * the strategy is buildable and every host file the config names exists.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { initModeOf } from "../manifest/fledge.ts";
import { DEFAULT_BUSYBOX } from "./busybox.ts";
import { assertBuildable, loadConfig } from "./config.ts";
import { hostPath } from "./mappings.ts";

/** What a valid config describes (the `--json` summary). */
export interface ValidateSummary {
  config: string;
  name: string;
  version: string;
  strategy: string;
  init: "shim" | "custom" | "none";
  mappings: number;
}

/** Validates `file`; throws a VolantError listing every missing host file. */
export function validateConfig(file: string): ValidateSummary {
  const { config, dir, path } = loadConfig(file);
  assertBuildable(config);
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
  const problems = wanted.filter((w) => !exists(w.path)).map((w) => ({
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
  };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
