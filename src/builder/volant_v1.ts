/**
 * Volant fledge's own fledge.toml (version 1: `[agent]`, `[init]`, `[source]`,
 * `[filesystem]`, `[mappings]`, no `[plugin]`/`[workload]`) and its runtime
 * template manifest.toml (`fledge build -m`), converted to our fledge.toml
 * shape, which the strict schema then validates. Which format a file is in is
 * decided by one rule: a `[plugin]` table means ours.
 *
 * Conversions (docs/fledge.md, "Volant fledge compatibility"):
 * - `[agent] source_strategy = "release"`: nothing is downloaded. `--agent PATH`
 *   or `--agent URL --agent-sha256 HEX` puts that kestrel at /bin/kestrel;
 *   `--agent none` leaves it out (VMs run kestrel from volantd's agent image).
 *   Without one of them the build stops with a message saying exactly that.
 * - `[init] path`: Volant copied that host file to /init; a path that is a
 *   mapping destination is taken as the in-image program (our custom init).
 * - The plugin name, version, resources and workload come from manifest.toml;
 *   without one: the config directory's name, 0.1.0, 1 vCPU / 256 MiB, the
 *   first mapped program in a bin directory (else busybox httpd on port 80).
 * - Destinations may end in `/` (directory mappings); the slash is dropped.
 *
 * Pure apart from nothing: the caller reads the files. Errors name the field.
 *
 * @module
 */
import { basename } from "node:path";
import { z } from "zod";
import { VolantError } from "../errors.ts";
import { problemsFromZod } from "../manifest/validate.ts";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Which fledge.toml dialect a decoded file is. */
export type FledgeFormat = "volant-ts" | "volant-v1";

/** Our format has `[plugin]`; Volant's v1 never does. */
export function formatOf(decoded: unknown): FledgeFormat {
  return isObj(decoded) && "plugin" in decoded ? "volant-ts" : "volant-v1";
}

/** Human name of a format, for `fledge validate`. */
export const FORMAT_NAMES: Record<FledgeFormat, string> = {
  "volant-ts": "Volant-TS fledge.toml",
  "volant-v1": "Volant fledge v1 fledge.toml",
};

/** Build flags that stand in for Volant's release downloads and init switches. */
export interface V1Flags {
  /** `--agent`: a kestrel path, an http(s) URL, or "none". */
  agent?: string;
  /** `--agent-sha256`: required with an agent URL. */
  agentSha256?: string;
  /** `--init PATH`: Volant's custom init (a host file copied to /init). */
  init?: string;
  /** `--no-init`: the image's own /init (from the mappings) is PID 1. */
  noInit?: boolean;
  /** True when converting for a build (release needs --agent); false for validate. */
  forBuild: boolean;
}

const str = z.string();
const VolantTemplateSchema = z.strictObject({
  schema_version: z.literal("v1", { error: 'must be "v1"' }).optional(),
  name: str.optional(),
  version: str.optional(),
  runtime: str.optional(),
  resources: z.strictObject({ cpu_cores: z.int(), memory_mb: z.int() }).partial().optional(),
  workload: z.strictObject({ entrypoint: str.optional(), args: z.array(str).optional() })
    .optional(),
  env: z.record(str, str).optional(),
  network: z.strictObject({
    mode: z.enum(["bridged", "vsock", "dhcp"], { error: "must be bridged, vsock or dhcp" })
      .optional(),
    expose: z.array(z.strictObject({
      port: z.int().min(1).max(65535),
      protocol: z.enum(["tcp", "udp"]).optional(),
      host_port: z.int().optional(),
    })).optional(),
  }).optional(),
  actions: z.record(str, z.strictObject({ path: str, method: str })).optional(),
});

function refuse(field: string, message: string, code: "invalid_input" | "usage" = "invalid_input") {
  return new VolantError(code, `${field}: ${message}`, { problems: [{ field, message }] });
}

const BIN_DIRS = ["/usr/local/bin/", "/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"];

/** A plugin name from a directory name: lower-case DNS label, or "plugin". */
export function nameFromDir(dir: string): string {
  const n = basename(dir).toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "")
    .slice(0, 63).replace(/-+$/, "");
  return n.length > 0 ? n : "plugin";
}

/**
 * Converts a decoded Volant v1 fledge.toml (and optional decoded manifest.toml)
 * to our fledge.toml object; validate the result with parseFledgeConfig.
 */
export function fromVolantV1(
  decoded: Obj,
  template: Obj | undefined,
  configDir: string,
  flags: V1Flags,
): Obj {
  const { agent, init, source, filesystem, mappings, version, strategy, ...rest } = decoded;
  const out: Obj = { ...rest, version, strategy };
  const tpl = template === undefined ? {} : parseTemplate(template);

  // [mappings]: Volant allows "dir/" = "/dest/"; drop the trailing slash of the destination.
  const maps: Obj = {};
  if (mappings !== undefined) {
    if (!isObj(mappings)) throw refuse("mappings", 'must be a table of "source" = "/dest"');
    for (const [src, dst] of Object.entries(mappings)) {
      maps[src] = typeof dst === "string" && dst.length > 1 ? dst.replace(/\/+$/, "") : dst;
    }
  }

  // [init] and the --init / --no-init switches.
  const initTable = isObj(init) ? { ...init } : init;
  if (flags.init !== undefined && flags.noInit) {
    throw refuse("--init", "cannot be combined with --no-init", "usage");
  }
  let initPath = isObj(initTable) && typeof initTable.path === "string"
    ? initTable.path
    : undefined;
  let none = isObj(initTable) && initTable.none === true;
  if (flags.init !== undefined) [initPath, none] = [flags.init, false];
  if (flags.noInit) [initPath, none] = [undefined, true];
  const mappedTo = new Set(Object.values(maps).filter((v) => typeof v === "string"));
  if (initPath !== undefined && !none) {
    if (mappedTo.has(initPath)) out.init = { path: initPath };
    else {
      // Volant copied this host file to /init and made it PID 1.
      if (initPath in maps) {
        throw refuse("init.path", `${initPath} is already mapped to ${maps[initPath]}`);
      }
      maps[initPath] = "/init";
      out.init = { none: true };
    }
  } else if (none) out.init = { none: true };
  else if (initTable !== undefined && !isObj(initTable)) out.init = initTable;
  const customInit = out.init !== undefined;

  // [agent]: Volant's default init mode needs one; release downloads nothing here.
  const defaultMode = strategy === "initramfs" && !customInit;
  const initFromFile = isObj(initTable) &&
    (initTable.path !== undefined || initTable.none === true);
  if (agent !== undefined && strategy === "initramfs" && customInit && initFromFile) {
    throw refuse(
      "agent",
      "is not used with [init] path or none (Volant's rule: the custom init replaces kestrel); remove [agent]",
    );
  }
  const a = customInit && strategy === "initramfs"
    ? undefined
    : agent ?? (defaultMode ? { source_strategy: "release", version: "latest" } : undefined);
  if (isObj(a) && a.source_strategy === "release") {
    out.agent = agentFromFlags(flags, defaultMode);
  } else {
    if (flags.agent !== undefined) {
      throw refuse("--agent", 'only stands in for [agent] source_strategy = "release"', "usage");
    }
    if (a !== undefined) out.agent = a;
  }

  if (source !== undefined) out.source = source;
  if (filesystem !== undefined) out.filesystem = filesystem;
  if (Object.keys(maps).length > 0) out.mappings = maps;

  // [plugin], [resources], [workload], [health_check] from manifest.toml or defaults.
  const name = tpl.name || tpl.runtime || nameFromDir(configDir);
  out.plugin = { name, version: tpl.version || "0.1.0" };
  if (tpl.runtime && tpl.runtime !== name) (out.plugin as Obj).runtime = tpl.runtime;
  out.resources = {
    cpu_cores: tpl.resources?.cpu_cores ?? 1,
    memory_mb: tpl.resources?.memory_mb ?? 256,
  };
  const port = tpl.network?.expose?.find((e) => (e.protocol ?? "tcp") === "tcp")?.port ?? 80;
  const entry = tpl.workload?.entrypoint;
  const program = entry && entry.length > 0
    ? [entry, ...(tpl.workload?.args ?? [])]
    : defaultProgram(maps, port);
  const workload: Obj = {
    entrypoint: program,
    base_url: `http://127.0.0.1:${port}`,
  };
  if (tpl.env !== undefined) workload.env = tpl.env;
  out.workload = workload;
  out.health_check = { endpoint: "/" };
  if (tpl.actions !== undefined) {
    out.actions = Object.fromEntries(
      Object.entries(tpl.actions).map(([k, v]) => [k, { method: v.method, path: v.path }]),
    );
  }
  return out;
}

/** The first mapped program in a bin directory, else busybox httpd serving / on `port`. */
function defaultProgram(maps: Obj, port: number): string[] {
  for (const dst of Object.values(maps)) {
    if (typeof dst === "string" && BIN_DIRS.some((d) => dst.startsWith(d))) return [dst];
  }
  return ["/bin/httpd", "-f", "-p", String(port), "-h", "/"];
}

function agentFromFlags(flags: V1Flags, needed: boolean): Obj | undefined {
  const given = flags.agent;
  if (given === "none") return undefined;
  if (given === undefined) {
    if (!flags.forBuild || !needed) return undefined;
    throw new VolantError(
      "invalid_input",
      'agent.source_strategy: "release" downloads nothing here (fledge never reaches for the ' +
        "internet by itself): give --agent PATH (a kestrel binary for /bin/kestrel), " +
        "--agent URL --agent-sha256 HEX, or --agent none to leave it out (VMs then run kestrel " +
        "from the agent image volantd attaches)",
      {
        problems: [{
          field: "agent.source_strategy",
          message: '"release": give --agent PATH, --agent URL --agent-sha256 HEX, or --agent none',
        }],
      },
    );
  }
  if (/^https?:\/\//.test(given)) {
    if (flags.agentSha256 === undefined) {
      throw refuse(
        "--agent-sha256",
        "is required with an --agent URL (downloads are verified)",
        "usage",
      );
    }
    return { source_strategy: "http", url: given, checksum: flags.agentSha256 };
  }
  return { source_strategy: "local", path: given };
}

type Template = z.infer<typeof VolantTemplateSchema>;

function parseTemplate(raw: Obj): Template {
  const r = VolantTemplateSchema.safeParse(raw, { reportInput: true });
  if (r.success) return r.data;
  const problems = problemsFromZod(r.error, "manifest.toml");
  throw new VolantError(
    "invalid_input",
    `invalid manifest.toml: ${problems.map((p) => `${p.field}: ${p.message}`).join("; ")}`,
    { problems },
  );
}
