/**
 * `deno task release`: writes `dist/release/`, everything a GitHub release
 * carries (docs/install.md, "Release assets"):
 *
 * - `volant-v<version>-linux-x86_64.tar.gz`: `bin/volant` plus the persona
 *   links `bin/{volantd,volar,fledge}`, `share/volant/shim` (fledge's /init)
 *   and a README saying which shape it is. Where denort exists, `bin/volant`
 *   is the `deno compile`d program; elsewhere it is a launcher running the
 *   code-split bundle in `lib/volant/` on Deno. Nothing else differs.
 * - the guest artifacts as their own assets: `vmlinux`, `bzImage` (from the
 *   cached kernel build), `agent.img.gz`, `boot.cpio.gz` (scripts/agent_image.ts);
 * - `install.sh` (scripts/install.sh) and `SHA256SUMS` over all of them.
 *
 * Reproducible: the tar has sorted entries, fixed mtimes (SOURCE_DATE_EPOCH,
 * default 0), owner 0:0 and explicit modes; gzip carries no name or time.
 *
 * Usage: deno task release [--out DIR] [--kernel-dir DIR] [--cache-dir DIR]
 *
 * @module
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { VERSION } from "../src/version.ts";
import { type AgentArtifacts, buildAgentArtifacts } from "./agent_image.ts";
import { bundleSplit } from "./bundle.ts";
import { findDenort } from "./compile.ts";
import { PERSONAS, REPO } from "./_repo.ts";

/** The platform every asset name carries. */
export const PLATFORM = "linux-x86_64";

/** The release tag for a version (`0.1.0` -> `v0.1.0`). */
export function releaseTag(version = VERSION): string {
  return `v${version}`;
}

/** File name of the program archive for a tag. */
export function archiveName(tag = releaseTag()): string {
  return `volant-${tag}-${PLATFORM}.tar.gz`;
}

/** The guest assets, in the order install.sh installs them. */
export const GUEST_ASSETS = ["vmlinux", "bzImage", "agent.img.gz", "boot.cpio.gz"] as const;

export type ProgramShape = "compiled" | "bundle";

export interface ReleaseOptions {
  /** Output directory (emptied of earlier release files first). */
  outDir: string;
  /** Directory holding `vmlinux` and `bzImage`; default: `bash kernel/build.sh` (cache hit). */
  kernelDir?: string;
  /** Build cache for the agent image (default VOLANT_CACHE_DIR or /var/cache/volant). */
  cacheDir?: string;
  /** Seconds since the epoch for every timestamp (default SOURCE_DATE_EPOCH or 0). */
  epoch?: number;
  /** Force a shape (default: compiled when denort can be had, else bundle). */
  shape?: ProgramShape;
  log?: (line: string) => void;
}

export interface ReleaseResult {
  outDir: string;
  tag: string;
  shape: ProgramShape;
  /** Asset name -> sha256 hex, every file listed in SHA256SUMS. */
  sums: Record<string, string>;
}

async function output(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  if (!out.success) {
    const err = dec.decode(out.stderr).trim().split("\n").slice(-5).join(" | ");
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}): ${err}`);
  }
  return dec.decode(out.stdout);
}

/** `key=value` lines (what kernel/build.sh and agent_image.ts print). */
function keyValues(text: string): Record<string, string> {
  const kv: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) kv[line.slice(0, i)] = line.slice(i + 1);
  }
  return kv;
}

async function kernelFiles(dir?: string): Promise<{ vmlinux: string; bzImage: string }> {
  if (dir) return { vmlinux: join(dir, "vmlinux"), bzImage: join(dir, "bzImage") };
  // A cache hit costs nothing; a build in progress elsewhere is waited for (its lock).
  const kv = keyValues(await output("bash", [join(REPO, "kernel", "build.sh")]));
  if (!kv.vmlinux || !kv.bzImage) throw new Error("kernel/build.sh printed no vmlinux=/bzImage=");
  return { vmlinux: kv.vmlinux, bzImage: kv.bzImage };
}

/** The README inside the archive: says which shape this is and how it runs. */
export function archiveReadme(tag: string, shape: ProgramShape): string {
  const how = shape === "compiled"
    ? [
      "Shape: compiled. bin/volant is one `deno compile`d executable holding every",
      "persona; it needs nothing else on the host.",
    ]
    : [
      "Shape: bundle. bin/volant is a launcher that runs lib/volant/main.js (a code-split",
      "`deno bundle` of the same program: one chunk per persona, loaded on demand) on",
      "Deno 2.9 from PATH (or VOLANT_DENO). It was built where `deno compile`'s runtime",
      "(denort) could not be downloaded; the compiled shape carries one executable instead",
      "and nothing else differs.",
    ];
  return [
    `Volant ${tag} for ${PLATFORM}`,
    "",
    ...how,
    "",
    "bin/volantd, bin/volar and bin/fledge are symlinks to bin/volant: the program picks",
    "its persona from the name it is invoked by (or `volant <persona> ...`).",
    "share/volant/shim is the static stage-1 init that fledge puts at /init.",
    "",
    "Install with install.sh from the same release (checksums verified first):",
    "  curl -fsSL <release-url>/install.sh | bash",
    "then set up the host (bridge, NAT, systemd unit):",
    "  sudo volar setup",
    "",
  ].join("\n");
}

/** The launcher of the bundle shape: keeps the invoked name as argv0 (persona dispatch). */
export function bundleLauncher(): string {
  return [
    "#!/usr/bin/env bash",
    "# Volant launcher (bundle shape, see README): runs ../lib/volant/main.js on Deno,",
    "# keeping the invoked name (volantd, volar, fledge) as argv0 to pick the persona.",
    "# Invoked by absolute path (PATH lookups are) through a link beside the real launcher",
    "# (bin/ in the archive, the install prefix): the shell's own -ef/-L tests find it;",
    "# anything else pays for a readlink process.",
    'case "$0" in /*) here="${0%/*}" ;; *) here="" ;; esac',
    "# (Not when bin/ itself is a link: Deno would read bin/../lib by name, not by inode.)",
    'if [ -n "$here" ] && [ "$here/volant" -ef "$0" ] && [ ! -L "$here/volant" ] &&',
    '  [ ! -L "$here" ]; then',
    '  self="$here/volant"',
    "else",
    '  self=$(readlink -f -- "$0") || exit 127',
    "fi",
    'lib="${self%/*}/../lib/volant"',
    "# `command -v` without $(...): no subshell to fork on every call.",
    'deno="${VOLANT_DENO:-deno}"',
    'if ! command -v "$deno" >/dev/null; then',
    '  echo "${0##*/}: this Volant build runs on Deno 2.9: npm install -g deno@2.9.6 (or set VOLANT_DENO)" >&2',
    "  exit 127",
    "fi",
    "# VOLANT_PROGRAM lets `volar setup` find volantd beside this launcher.",
    'export DENO_NO_UPDATE_CHECK=1 DENO_NO_PACKAGE_JSON=1 VOLANT_PROGRAM="$self"',
    'exec -a "${0##*/}" "$deno" run -A --no-config --no-prompt --quiet "$lib/main.js" "$@"',
    "",
  ].join("\n");
}

async function walk(dir: string, base = ""): Promise<{ rel: string; entry: Deno.DirEntry }[]> {
  const out: { rel: string; entry: Deno.DirEntry }[] = [];
  for await (const e of Deno.readDir(join(dir, base))) {
    const rel = base ? `${base}/${e.name}` : e.name;
    out.push({ rel, entry: e });
    if (e.isDirectory) out.push(...await walk(dir, rel));
  }
  return out;
}

/** Explicit modes on every staged entry, so the umask does not leak into the archive. */
async function normaliseModes(dir: string): Promise<void> {
  await Deno.chmod(dir, 0o755);
  for (const { rel, entry } of await walk(dir)) {
    if (entry.isSymlink) continue;
    const path = join(dir, rel);
    if (entry.isDirectory) await Deno.chmod(path, 0o755);
    else {
      const exec = ((await Deno.stat(path)).mode ?? 0) & 0o111;
      await Deno.chmod(path, exec ? 0o755 : 0o644);
    }
  }
}

/** A deterministic tar.gz of `top` (a directory inside `parent`). */
export async function reproducibleTarGz(
  parent: string,
  top: string,
  epoch: number,
): Promise<Uint8Array> {
  const tar = await new Deno.Command("tar", {
    args: [
      "--create",
      "--format=gnu",
      "--sort=name",
      `--mtime=@${epoch}`,
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--file=-",
      "-C",
      parent,
      top,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C" },
  }).output();
  if (!tar.success) {
    throw new Error(`tar failed: ${new TextDecoder().decode(tar.stderr).trim()}`);
  }
  // node:zlib writes no file name and mtime 0 into the gzip header.
  return gzipSync(tar.stdout, { level: 9 });
}

/** Stages the program tree for `shape` under `root/<top>`. */
async function stageProgram(
  root: string,
  top: string,
  shape: ProgramShape,
  tag: string,
  agent: AgentArtifacts,
  denortEnv: Record<string, string>,
  log: (line: string) => void,
): Promise<void> {
  const base = join(root, top);
  const bin = join(base, "bin");
  await Deno.mkdir(bin, { recursive: true });
  if (shape === "compiled") {
    log("release: deno compile src/main.ts -> bin/volant");
    await output(Deno.execPath(), [
      "compile",
      "-A",
      "--no-check",
      "--output",
      join(bin, "volant"),
      join(REPO, "src", "main.ts"),
    ], denortEnv).catch((e) => {
      throw new Error(`deno compile failed (${denortEnv.DENORT_BIN ?? "denort from Deno"}): ${e}`);
    });
  } else {
    log("release: deno bundle --code-splitting src/main.ts -> lib/volant/");
    await bundleSplit(join(REPO, "src", "main.ts"), join(base, "lib", "volant"));
    await Deno.writeTextFile(join(bin, "volant"), bundleLauncher(), { mode: 0o755 });
  }
  await Deno.chmod(join(bin, "volant"), 0o755);
  for (const p of PERSONAS) await Deno.symlink("volant", join(bin, p));
  await Deno.mkdir(join(base, "share", "volant"), { recursive: true });
  await Deno.copyFile(agent.shim, join(base, "share", "volant", "shim"));
  await Deno.chmod(join(base, "share", "volant", "shim"), 0o755);
  await Deno.writeTextFile(join(base, "README"), archiveReadme(tag, shape));
  await normaliseModes(base);
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/** Builds every release asset into `o.outDir`. */
export async function buildRelease(o: ReleaseOptions): Promise<ReleaseResult> {
  const log = o.log ?? ((l: string) => console.error(l));
  const epoch = o.epoch ?? Number(Deno.env.get("SOURCE_DATE_EPOCH") ?? 0);
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new Error(`SOURCE_DATE_EPOCH must be a non-negative integer, not '${epoch}'`);
  }
  const tag = releaseTag();
  // --shape compiled lets `deno compile` download denort itself (the release runners can).
  const denort = o.shape === "bundle"
    ? null
    : o.shape === "compiled"
    ? { env: {} as Record<string, string> }
    : await findDenort();
  const shape: ProgramShape = denort ? "compiled" : "bundle";
  log(`release: ${tag} ${PLATFORM}, ${shape} shape`);

  const kernel = await kernelFiles(o.kernelDir);
  const cacheDir = o.cacheDir ?? Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant";
  const agent = await buildAgentArtifacts({
    kestrel: { kind: "entry", path: join(REPO, "agent", "main.ts") },
    cacheDir,
    setCurrent: false,
    compile: shape === "compiled",
    epoch,
    log,
  });

  const outDir = resolve(o.outDir);
  await Deno.mkdir(outDir, { recursive: true });
  for await (const e of Deno.readDir(outDir)) {
    await Deno.remove(join(outDir, e.name), { recursive: true });
  }
  const stage = await Deno.makeTempDir({ prefix: "volant-release-" });
  try {
    const top = `volant-${tag}-${PLATFORM}`;
    await stageProgram(stage, top, shape, tag, agent, denort?.env ?? {}, log);
    await Deno.writeFile(
      join(outDir, archiveName(tag)),
      await reproducibleTarGz(stage, top, epoch),
    );
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
  log("release: guest artifacts");
  await Deno.copyFile(kernel.vmlinux, join(outDir, "vmlinux"));
  await Deno.copyFile(kernel.bzImage, join(outDir, "bzImage"));
  await Deno.copyFile(agent.bootInitramfs, join(outDir, "boot.cpio.gz"));
  await Deno.writeFile(
    join(outDir, "agent.img.gz"),
    gzipSync(await Deno.readFile(agent.agentImage), { level: 6 }),
  );
  await Deno.copyFile(join(REPO, "scripts", "install.sh"), join(outDir, "install.sh"));

  const names = [archiveName(tag), ...GUEST_ASSETS, "install.sh"].sort();
  const sums: Record<string, string> = {};
  for (const name of names) {
    const path = join(outDir, name);
    await Deno.chmod(path, name === "install.sh" ? 0o755 : 0o644);
    sums[name] = sha256(await Deno.readFile(path));
  }
  await Deno.writeTextFile(
    join(outDir, "SHA256SUMS"),
    names.map((n) => `${sums[n]}  ${n}\n`).join(""),
  );
  // Pinned times on the loose assets too, so `ls -l` and HTTP Last-Modified agree run to run.
  for (const name of [...names, "SHA256SUMS"]) {
    await Deno.utime(join(outDir, name), epoch, epoch);
  }
  return { outDir, tag, shape, sums };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      out: { type: "string" },
      "kernel-dir": { type: "string" },
      "cache-dir": { type: "string" },
      shape: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno task release [--out DIR] [--kernel-dir DIR] [--cache-dir DIR] " +
        "[--shape compiled|bundle]",
    );
    Deno.exit(0);
  }
  if (values.shape !== undefined && values.shape !== "compiled" && values.shape !== "bundle") {
    console.error(`release: --shape must be compiled or bundle, not '${values.shape}'`);
    Deno.exit(2);
  }
  try {
    const r = await buildRelease({
      outDir: values.out ?? join(REPO, "dist", "release"),
      kernelDir: values["kernel-dir"],
      cacheDir: values["cache-dir"],
      shape: values.shape as ProgramShape | undefined,
    });
    for (const [name, hex] of Object.entries(r.sums)) console.log(`${hex}  ${r.outDir}/${name}`);
  } catch (e) {
    console.error(`release: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
