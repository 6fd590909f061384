/**
 * Resolves volantd's configuration once: flags > `VOLANT_*` env > config file
 * (TOML) > defaults. A bad value names the key and where it came from.
 *
 * @module
 */
import { parse as parseToml } from "smol-toml";
import { type FieldProblem, VolantError } from "../errors.ts";
import { type ConfigKey, DEFAULT_CONFIG_FILE, DEFAULTS } from "./defaults.ts";
import { KEY_SCHEMAS } from "./schema.ts";

export type ConfigSource = "flag" | "env" | "file" | "default";

/** The typed configuration every component receives. Derived paths are filled in. */
export interface ResolvedConfig {
  stateDir: string;
  socket: string;
  listen: string;
  bridge: string;
  subnet: string;
  poolStart: string;
  poolEnd: string;
  dns: string[];
  mtu: number;
  hypervisor: "qemu" | "cloud-hypervisor";
  /** `auto` probes KVM (a bounded guest boot) and falls back to TCG; `kvm` / `tcg` force. */
  accel: "auto" | "kvm" | "tcg";
  machine: "microvm" | "q35";
  runtimeDir: string;
  cacheDir: string;
  kernel: string;
  agentImage: string;
  bootInitramfs: string;
  serialLogMaxBytes: number;
  stopGraceSeconds: number;
  logLevel: "debug" | "info" | "warn" | "error";
  allowPrivateSources: boolean;
  downloadMaxBytes: number;
  downloadTimeoutSeconds: number;
  requireSignatures: boolean;
  warmStart: boolean;
  jail: boolean;
  vmmUser: string;
  vmmMemoryOverheadMb: number;
  /** Where each key's value came from, e.g. `env VOLANT_SUBNET`. */
  sources: Record<ConfigKey, string>;
  /** The config file read, if any. */
  configFile: string | null;
}

/** Inputs of {@linkcode resolveConfig}; pure data so it is testable without a filesystem. */
export interface ConfigInputs {
  /** Flag values by config key (`state_dir`), as given on the command line. */
  flags?: Partial<Record<ConfigKey, string>>;
  env?: Record<string, string | undefined>;
  file?: { path: string; text: string };
}

/** `state_dir` -> `VOLANT_STATE_DIR`. */
export function envName(key: ConfigKey): string {
  return `VOLANT_${key.toUpperCase()}`;
}

/** `state_dir` -> `--state-dir`. */
export function flagName(key: ConfigKey): string {
  return `--${key.replace(/_/g, "-")}`;
}

const KEYS = Object.keys(DEFAULTS) as ConfigKey[];

function parseFile(file: { path: string; text: string }): Record<string, unknown> {
  try {
    return parseToml(file.text) as Record<string, unknown>;
  } catch (cause) {
    const message = cause instanceof Error ? cause.message.split("\n")[0] : String(cause);
    throw new VolantError("invalid_input", `config file ${file.path}: not valid TOML: ${message}`, {
      cause,
      problems: [{ field: file.path, message: `not valid TOML: ${message}` }],
    });
  }
}

/** Resolves the configuration; throws `invalid_input` naming each bad key and its source. */
export function resolveConfig(inputs: ConfigInputs = {}): ResolvedConfig {
  const env = inputs.env ?? {};
  const fileValues = inputs.file ? parseFile(inputs.file) : {};
  const problems: FieldProblem[] = [];
  for (const key of Object.keys(fileValues)) {
    if (!(key in DEFAULTS)) {
      problems.push({
        field: key,
        message: `unknown key in config file ${inputs.file?.path} (known: ${KEYS.join(", ")})`,
      });
    }
  }
  const values = {} as Record<ConfigKey, unknown>;
  const sources = {} as Record<ConfigKey, string>;
  for (const key of KEYS) {
    let raw: unknown = DEFAULTS[key];
    let source = "default";
    if (inputs.flags?.[key] !== undefined) {
      raw = inputs.flags[key];
      source = `flag ${flagName(key)}`;
    } else if (env[envName(key)] !== undefined) {
      raw = env[envName(key)];
      source = `env ${envName(key)}`;
    } else if (key in fileValues) {
      raw = fileValues[key];
      source = `config file ${inputs.file?.path}`;
    }
    const result = KEY_SCHEMAS[key].safeParse(raw);
    if (result.success) {
      values[key] = result.data;
    } else {
      const message = result.error.issues[0]?.message ?? "invalid value";
      problems.push({
        field: key,
        message: `${message} (got ${JSON.stringify(raw)} from ${source})`,
      });
    }
    sources[key] = source;
  }
  if (problems.length > 0) {
    const summary = problems.map((p) => `${p.field}: ${p.message}`).join("; ");
    throw new VolantError("invalid_input", `invalid configuration: ${summary}`, { problems });
  }
  const cacheDir = values.cache_dir as string;
  const orDefault = (v: unknown, fallback: string) => (v as string) || fallback;
  return {
    stateDir: values.state_dir as string,
    socket: values.socket as string,
    listen: values.listen as string,
    bridge: values.bridge as string,
    subnet: values.subnet as string,
    poolStart: values.pool_start as string,
    poolEnd: values.pool_end as string,
    dns: (values.dns as string).split(",").map((s) => s.trim()).filter((s) => s.length > 0),
    mtu: values.mtu as number,
    hypervisor: values.hypervisor as ResolvedConfig["hypervisor"],
    accel: values.accel as ResolvedConfig["accel"],
    machine: values.machine as ResolvedConfig["machine"],
    runtimeDir: values.runtime_dir as string,
    cacheDir,
    kernel: orDefault(values.kernel, `${cacheDir}/kernel/current/vmlinux`),
    agentImage: orDefault(values.agent_image, `${cacheDir}/agent/current/agent.img`),
    bootInitramfs: orDefault(values.boot_initramfs, `${cacheDir}/agent/current/boot.cpio.gz`),
    serialLogMaxBytes: values.serial_log_max_bytes as number,
    stopGraceSeconds: values.stop_grace_seconds as number,
    logLevel: values.log_level as ResolvedConfig["logLevel"],
    allowPrivateSources: values.allow_private_sources as boolean,
    downloadMaxBytes: values.download_max_bytes as number,
    downloadTimeoutSeconds: values.download_timeout_seconds as number,
    requireSignatures: values.require_signatures as boolean,
    warmStart: values.warm_start as boolean,
    jail: values.jail as boolean,
    vmmUser: values.vmm_user as string,
    vmmMemoryOverheadMb: values.vmm_memory_overhead_mb as number,
    sources,
    configFile: inputs.file?.path ?? null,
  };
}

/**
 * Reads the config file (`--config`, else `VOLANT_CONFIG`, else
 * /etc/volant/volantd.toml when it exists) and resolves. A file named
 * explicitly must exist.
 */
export async function loadConfig(
  opts: { flags?: Partial<Record<ConfigKey, string>>; configPath?: string } = {},
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<ResolvedConfig> {
  const explicit = opts.configPath ?? env.VOLANT_CONFIG;
  const path = explicit ?? DEFAULT_CONFIG_FILE;
  let file: { path: string; text: string } | undefined;
  try {
    file = { path, text: await Deno.readTextFile(path) };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound) || explicit) {
      const why = error instanceof Deno.errors.NotFound ? "not found" : String(error);
      throw new VolantError("invalid_input", `config file ${path}: ${why}`, {
        problems: [{ field: "config", message: `${path}: ${why}` }],
      });
    }
  }
  return resolveConfig({ flags: opts.flags, env, file });
}

/** parseArgs `options` for every config key (all strings), plus `--config`. */
export function configFlagOptions(): Record<string, { type: "string" | "boolean" }> {
  const out: Record<string, { type: "string" | "boolean" }> = { config: { type: "string" } };
  for (const key of KEYS) {
    // A boolean key is a bare switch on the command line (`--allow-private-sources`).
    out[key.replace(/_/g, "-")] = {
      type: typeof DEFAULTS[key] === "boolean" ? "boolean" : "string",
    };
  }
  return out;
}

/** Picks config keys out of parseArgs `values` (dashed names) into flag inputs. */
export function flagsFromParsed(
  values: Record<string, unknown>,
): Partial<Record<ConfigKey, string>> {
  const flags: Partial<Record<ConfigKey, string>> = {};
  for (const key of KEYS) {
    const v = values[key.replace(/_/g, "-")];
    if (typeof v === "string") flags[key] = v;
    else if (typeof v === "boolean") flags[key] = String(v);
  }
  return flags;
}
