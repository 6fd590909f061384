/**
 * `fledge build`, initramfs strategy: fledge.toml -> `<name>-<version>.cpio.gz`,
 * `<name>.manifest.json` and SHA256SUMS in the output directory.
 *
 * The image is assembled in memory (skeleton, busybox, agent, shim/init,
 * mappings), written by our own cpio writer and compressed deterministically,
 * so the bytes depend only on the inputs and SOURCE_DATE_EPOCH. Rootless: no
 * mknod, no mounts; the only scratch space is a directory inside the output
 * directory (for running a downloaded busybox's `--list`), removed at the end.
 *
 * @module
 */
import { join, relative } from "node:path";
import { VolantError } from "../errors.ts";
import { type FledgeConfig, initModeOf } from "../manifest/fledge.ts";
import { loadBusybox } from "./busybox.ts";
import { compress, type Compression, SUFFIX } from "./compress.ts";
import { assertBuildable, loadConfig, type LoadOptions } from "./config.ts";
import { encodeCpio } from "./cpio.ts";
import { sha256Hex } from "./digest.ts";
import { download } from "./download.ts";
import { staticProblem } from "./elf.ts";
import { applyMappings, hostPath } from "./mappings.ts";
import { manifestJson, pluginManifest } from "./manifest_out.ts";
import { writeOutputs } from "./output.ts";
import { resolveInTree } from "./resolve.ts";
import { addSkeleton } from "./skeleton.ts";
import { ImageTree } from "./tree.ts";

/** Options for {@linkcode buildAppliance}. */
export interface BuildOptions {
  /** fledge.toml path. */
  configFile: string;
  /** Output directory (created if missing). */
  outDir: string;
  /**
   * The artifact's file name inside `outDir` (Volant's `-o FILE`); default
   * `<name>-<version>.cpio.gz`. The manifest stays `<name>.manifest.json`.
   */
  artifactFile?: string;
  /** Volant v1 inputs: `-m manifest.toml`, `--agent`, `--init`, `--no-init`. */
  load?: LoadOptions;
  /** The static shim for /init; default: FLEDGE_SHIM, then <cache>/agent/current/shim. */
  shimPath?: string;
  /** URL prefix for `initramfs.url` (default: the artifact's relative file name). */
  baseUrl?: string;
  /** mtime of every entry (SOURCE_DATE_EPOCH); default 0. */
  mtime?: number;
  /** Receives one progress line per step. */
  progress?: (line: string) => void;
}

/** What a build produced; also the `--json` summary. */
export interface BuildResult {
  name: string;
  version: string;
  strategy: "initramfs";
  init: "shim" | "custom" | "none";
  compression: Compression;
  artifact: { file: string; path: string; sha256: string; checksum: string; size: number };
  manifest: { file: string; path: string; sha256: string };
  sha256sums: string;
  entries: number;
  uncompressed_size: number;
  mtime: number;
  duration_ms: number;
}

/** Where install.sh puts the shim of a release (docs/install.md). */
export const INSTALLED_SHIM = "/var/lib/volant/agent/shim";

/**
 * The default shim: `${VOLANT_CACHE_DIR:-/var/cache/volant}/agent/current/shim` (a checkout's
 * `deno task agent`), else the installed release's `/var/lib/volant/agent/shim`.
 */
export function defaultShimPath(): string {
  const cache = Deno.env.get("VOLANT_CACHE_DIR") || "/var/cache/volant";
  const built = join(cache, "agent", "current", "shim");
  try {
    Deno.statSync(built);
    return built;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  try {
    Deno.statSync(INSTALLED_SHIM);
    return INSTALLED_SHIM;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return built; // neither: the error names the build path and how to make it
  }
}

function readShim(path: string, explicit: boolean): Uint8Array {
  let data: Uint8Array;
  try {
    data = Deno.readFileSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    const how = explicit
      ? ""
      : ": build it with `deno task agent` (or pass --shim PATH / FLEDGE_SHIM)";
    throw new VolantError("not_found", `shim: ${path} does not exist${how}`, { cause: error });
  }
  const bad = staticProblem(data);
  if (bad !== null) throw new VolantError("invalid_input", `shim: ${path} ${bad}`);
  return data;
}

async function loadAgent(config: FledgeConfig, configDir: string): Promise<Uint8Array | null> {
  const a = config.agent;
  if (a === undefined) return null;
  if (a.source_strategy === "local") {
    const p = hostPath(configDir, a.path!);
    try {
      const info = Deno.statSync(p);
      if (!info.isFile) {
        throw new VolantError("invalid_input", `agent.path: ${p} is not a regular file`, {
          problems: [{ field: "agent.path", message: `${p} is not a regular file` }],
        });
      }
      return Deno.readFileSync(p);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new VolantError("not_found", `agent.path: ${p} does not exist`, {
        problems: [{ field: "agent.path", message: `${p} does not exist` }],
        cause: error,
      });
    }
  }
  return await download(a.url!, { field: "agent.url", sha256: a.checksum! });
}

function isExecutable(tree: ImageTree, path: string): boolean {
  const node = resolveInTree(tree, path);
  return node !== null && node.type === "file" && (node.mode & 0o111) !== 0;
}

/** Checks that the image can start: the init exists, the workload program exists. */
function checkImage(tree: ImageTree, config: FledgeConfig): void {
  const mode = initModeOf(config);
  if (mode.kind !== "none" && tree.get("/init")?.origin !== "shim") {
    throw new VolantError(
      "invalid_input",
      `mappings: /init is the shim's place; set [init] none = true to provide your own /init`,
      {
        problems: [{
          field: "mappings",
          message: "/init is the shim's place; set [init] none = true to provide your own /init",
        }],
      },
    );
  }
  if (mode.kind === "custom" && !isExecutable(tree, mode.path)) {
    throw new VolantError(
      "invalid_input",
      `init.path: ${mode.path} is not an executable file in the image (map it with [mappings])`,
      {
        problems: [{ field: "init.path", message: `${mode.path} is not executable in the image` }],
      },
    );
  }
  if (mode.kind === "none" && !isExecutable(tree, "/init")) {
    throw new VolantError(
      "invalid_input",
      `init.none: the image has no executable /init (map one, e.g. "./init" = "/init")`,
      { problems: [{ field: "init.none", message: "the image has no executable /init" }] },
    );
  }
  const program = config.workload.entrypoint[0];
  if (mode.kind === "shim" && program.startsWith("/") && !isExecutable(tree, program)) {
    throw new VolantError(
      "invalid_input",
      `workload.entrypoint: ${program} is not an executable file in the image`,
      { problems: [{ field: "workload.entrypoint.0", message: `${program} is not in the image` }] },
    );
  }
}

function makeOutDir(dir: string): void {
  try {
    Deno.mkdirSync(dir, { recursive: true });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists || error instanceof Deno.errors.NotADirectory) {
      throw new VolantError("invalid_input", `--output: ${dir} is not a directory`, {
        cause: error,
      });
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new VolantError("forbidden", `--output: cannot create ${dir}: permission denied`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** Builds the appliance described by `options.configFile`. */
export async function buildAppliance(options: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const say = options.progress ?? (() => {});
  const { config, dir: configDir, path: configPath } = loadConfig(options.configFile, {
    ...options.load,
    forBuild: true,
  });
  assertBuildable(config);
  const init = initModeOf(config);
  const compression: Compression = config.output?.compression ?? "gzip";
  const mtime = options.mtime ?? 0;
  const { name, version } = config.plugin;
  say(`building ${name} ${version} from ${relative(Deno.cwd(), configPath) || configPath}`);

  makeOutDir(options.outDir);
  let workDir: string | null = null;
  const scratch =
    () => (workDir ??= Deno.makeTempDirSync({ dir: options.outDir, prefix: ".fledge-work-" }));
  try {
    const tree = new ImageTree();
    addSkeleton(tree);

    const busybox = await loadBusybox(config, configDir, scratch);
    tree.put("/bin/busybox", { type: "file", mode: 0o755, data: busybox.data, origin: "busybox" });
    for (const applet of busybox.applets) {
      tree.put(
        `/bin/${applet}`,
        { type: "symlink", target: "busybox", origin: "busybox" },
        "builtin",
      );
    }
    say(`busybox: ${busybox.source} (${busybox.applets.length} applets)`);

    const agent = await loadAgent(config, configDir);
    if (agent !== null) {
      tree.put(
        "/bin/kestrel",
        { type: "file", mode: 0o755, data: agent, origin: "agent" },
        "builtin",
      );
      say(`agent: /bin/kestrel (${agent.length} bytes, ${config.agent!.source_strategy})`);
    }

    if (init.kind !== "none") {
      const explicit = options.shimPath ?? Deno.env.get("FLEDGE_SHIM");
      const shimPath = explicit || defaultShimPath();
      tree.put("/init", {
        type: "file",
        mode: 0o755,
        data: readShim(shimPath, !!explicit),
        origin: "shim",
      });
      say(`shim: /init from ${shimPath}`);
    }
    if (init.kind === "custom") {
      const data = new TextEncoder().encode(init.path + "\n");
      tree.put("/.volant_init", { type: "file", mode: 0o644, data, origin: "init" });
    }

    if (config.mappings !== undefined) {
      const m = applyMappings(tree, config.mappings, configDir, [
        Deno.realPathSync(options.outDir),
      ]);
      say(`mappings: ${m.files} files, ${m.dirs} dirs, ${m.symlinks} symlinks, ${m.bytes} bytes`);
    }
    if (init.kind === "custom" && tree.get("/.volant_init")?.origin !== "init") {
      throw new VolantError("invalid_input", "mappings: /.volant_init is written by [init] path");
    }
    checkImage(tree, config);

    const archive = encodeCpio(tree.toCpioInputs(), { mtime });
    say(`cpio: ${tree.size} entries, ${archive.length} bytes`);
    const t0 = performance.now();
    const packed = compress(archive, compression);
    say(`${compression}: ${packed.length} bytes in ${Math.round(performance.now() - t0)} ms`);

    const artifactFile = options.artifactFile ?? `${name}-${version}${SUFFIX[compression]}`;
    const sha256 = sha256Hex(packed);
    const manifest = pluginManifest({ config, artifactFile, sha256, baseUrl: options.baseUrl });
    const manifestFile = `${name}.manifest.json`;
    const manifestBytes = new TextEncoder().encode(manifestJson(manifest));
    const written = writeOutputs(options.outDir, [
      { file: artifactFile, data: packed },
      { file: manifestFile, data: manifestBytes },
    ]);
    say(`wrote ${join(options.outDir, artifactFile)} (sha256:${sha256})`);
    return {
      name,
      version,
      strategy: "initramfs",
      init: init.kind,
      compression,
      artifact: {
        file: artifactFile,
        path: join(options.outDir, artifactFile),
        sha256,
        checksum: `sha256:${sha256}`,
        size: packed.length,
      },
      manifest: {
        file: manifestFile,
        path: join(options.outDir, manifestFile),
        sha256: sha256Hex(manifestBytes),
      },
      sha256sums: written.sha256sums,
      entries: tree.size,
      uncompressed_size: archive.length,
      mtime,
      duration_ms: Math.round(performance.now() - started),
    };
  } finally {
    if (workDir !== null) Deno.removeSync(workDir, { recursive: true });
  }
}
