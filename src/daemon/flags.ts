/**
 * volantd's command line: every config key as a flag (`--state-dir`, ...),
 * plus `--config FILE`, `--no-host-network`, `--help` and `--version`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { VolantError } from "../errors.ts";
import { configFlagOptions, type ConfigKey, DEFAULTS, flagsFromParsed } from "../config/mod.ts";

/** What the command line asked for. */
export interface DaemonFlags {
  help: boolean;
  version: boolean;
  configPath?: string;
  /** Skip bridge/NAT setup even as root (tests, or hosts networked by other means). */
  noHostNetwork: boolean;
  flags: Partial<Record<ConfigKey, string>>;
}

/** Parses argv; unknown flags and stray arguments are usage errors. */
export function parseDaemonArgs(args: string[]): DaemonFlags {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        ...configFlagOptions(),
        "no-host-network": { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new VolantError("usage", `${message} (see volantd --help)`, { cause: error });
  }
  const v = parsed.values as Record<string, unknown>;
  return {
    help: v.help === true,
    version: v.version === true,
    configPath: typeof v.config === "string" ? v.config : undefined,
    noHostNetwork: v["no-host-network"] === true,
    flags: flagsFromParsed(v),
  };
}

/** The --help text, generated from the config keys so it cannot drift. */
export function daemonUsage(): string {
  const lines = [
    "Usage: volantd [options]",
    "",
    "The Volant control plane: state, plugins, IPAM, VM lifecycle, events and the REST API.",
    "Listens on the unix socket (mode 0660) and, with --listen, on TCP with a bearer token",
    "(generated into <state-dir>/api-token on first use).",
    "",
    "Options (each also as VOLANT_<KEY> env var and as a key of the TOML config file):",
  ];
  for (const [key, value] of Object.entries(DEFAULTS)) {
    const flag = `--${key.replace(/_/g, "-")}`;
    const shown = value === "" ? "(unset)" : String(value);
    lines.push(`  ${flag.padEnd(24)} default ${shown}`);
  }
  lines.push(
    `  ${"--config FILE".padEnd(24)} TOML config (default /etc/volant/volantd.toml if present)`,
    `  ${"--no-host-network".padEnd(24)} do not create the bridge/NAT (VM starts answer 503)`,
    `  ${"-h, --help".padEnd(24)} this text`,
    `  ${"-V, --version".padEnd(24)} print the version`,
    "",
    "--accel auto uses KVM only when a bounded (3 s) boot of the guest kernel under KVM works,",
    "else TCG; the decision and its reason are logged and in GET /api/v1/system/info.",
    "--accel kvm refuses to start where KVM cannot boot the guest; --accel tcg never probes.",
  );
  return lines.join("\n");
}
