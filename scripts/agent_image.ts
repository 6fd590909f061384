/**
 * `deno task agent`: builds what carries kestrel into every guest
 * (docs/guest.md):
 *
 * - `agent.img`: the shared read-only ext4 agent image (attached as `vda`):
 *   `/kestrel` (static launcher), `bin/deno`, `lib/` (its glibc libraries and
 *   loader), `kestrel.js` (the bundle), `bin/busybox`; or, given a compiled
 *   kestrel, `bin/kestrel` in place of deno + bundle.
 * - `boot.cpio.gz`: the initramfs for rootfs-only plugins: the shim as `/init`,
 *   busybox and its applet links, FHS dirs, `/dev/console`, `/dev/null`.
 * - `shim`: the static shim, for fledge to put at `/init` of plugin initramfs.
 *
 * Everything is reproducible (fixed UUID, hash seed, times, owners, order) and
 * cached under `<cache>/agent/<key>/`, key = hash of the inputs; a cache hit
 * does no work. `<cache>/agent/current` points at the last build.
 *
 * Usage: deno run -A scripts/agent_image.ts [--entry agent/main.ts | --bundle kestrel.js |
 *        --compiled kestrel] [--compile] [--cache-dir DIR] [--no-current] [--force]
 *
 * @module
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { parseArgs } from "node:util";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { type CpioEntry, writeCpio } from "./cpio_newc.ts";
import { pinSuperblock } from "../src/builder/ext4_pin.ts";

const REPO = resolve(dirname(fromFileUrl(import.meta.url)), "..");
const SHIM_DIR = join(REPO, "shim");
const BUSYBOX = "/bin/busybox";
/** Bumped when the layout below changes, so old cache entries are not reused. */
const LAYOUT_VERSION = "agent-image v2";
/** Where the shim mounts the image in the guest; the warm-up runs kestrel at this path. */
const AGENT_MOUNT = "/volant/agent";

/** What goes in as kestrel: a TS entry to bundle, a ready bundle, or a compiled binary. */
export type KestrelSource =
  | { kind: "entry"; path: string }
  | { kind: "bundle"; path: string }
  | { kind: "compiled"; path: string };

export interface AgentBuildOptions {
  kestrel: KestrelSource;
  /** Cache root; artifacts land in `<cacheDir>/agent/<key>/`. */
  cacheDir: string;
  /** Repoint `<cacheDir>/agent/current` (default true). */
  setCurrent?: boolean;
  force?: boolean;
  /** The deno runtime put in the image (default: the running one). */
  denoPath?: string;
  /**
   * Try `deno compile` of the bundle (needs denort: downloaded from dl.deno.land or
   * DENORT_BIN); when it cannot, ship deno + bundle and say so.
   */
  compile?: boolean;
  /** Seconds since the epoch for every timestamp (default SOURCE_DATE_EPOCH or 0). */
  epoch?: number;
  log?: (line: string) => void;
}

export interface AgentArtifacts {
  key: string;
  dir: string;
  agentImage: string;
  bootInitramfs: string;
  shim: string;
  cached: boolean;
}

/** A build step failed; the message names the step and the command. */
export class AgentBuildError extends Error {
  override name = "AgentBuildError";
}

async function run(cmd: string, args: string[], env?: Record<string, string>): Promise<string> {
  // cwd = the repo, so deno info/bundle find deno.json (imports) and deno.lock.
  const out = await new Deno.Command(cmd, {
    args,
    env,
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  })
    .output()
    .catch((e) => {
      throw new AgentBuildError(`cannot run ${cmd}: ${e instanceof Error ? e.message : e}`);
    });
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join(" | ");
    throw new AgentBuildError(`${cmd} ${args.join(" ")} failed (rc ${out.code}): ${err}`);
  }
  return new TextDecoder().decode(out.stdout);
}

function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The deno binary's shared libraries (ldd), resolved to real files, by soname. */
export async function denoLibraries(deno: string): Promise<Map<string, string>> {
  const libs = new Map<string, string>();
  for (const line of (await run("ldd", [deno])).split("\n")) {
    const arrow = /^\s*(\S+) => (\/\S+)/.exec(line);
    const bare = /^\s*(\/\S+ld-linux\S*) \(/.exec(line);
    if (arrow) libs.set(arrow[1], await Deno.realPath(arrow[2]));
    else if (bare) libs.set(basename(bare[1]), await Deno.realPath(bare[1]));
  }
  if (!libs.has("ld-linux-x86-64.so.2") || !libs.has("libc.so.6")) {
    throw new AgentBuildError(`ldd ${deno}: no ld-linux-x86-64.so.2/libc.so.6 found`);
  }
  return libs;
}

/** Local files an entry point imports plus its npm packages, from `deno info`. */
async function entryInputs(entry: string): Promise<string[]> {
  const info = JSON.parse(await run(Deno.execPath(), ["info", "--json", entry])) as {
    modules: { specifier: string }[];
    npmPackages?: Record<string, unknown>;
  };
  const files = info.modules.map((m) => m.specifier).filter((s) => s.startsWith("file:")).sort();
  const parts: string[] = [];
  for (const f of files) parts.push(`${f} ${sha256(await Deno.readFile(fromFileUrl(f)))}`);
  parts.push(...Object.keys(info.npmPackages ?? {}).sort());
  return parts;
}

async function statStamp(path: string): Promise<string> {
  const st = await Deno.stat(path);
  return `${path} ${st.size} ${st.mtime?.getTime()}`;
}

/** agent/manifest_full.ts beside the entry, if there (a separately bundled, lazily loaded module). */
async function fullValidatorEntry(entry: string): Promise<string | null> {
  const path = join(dirname(entry), "manifest_full.ts");
  return await exists(path) ? path : null;
}

/** Every C source and header of shim/, sorted. */
async function shimSources(): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(SHIM_DIR)) if (/\.[ch]$/.test(e.name)) out.push(e.name);
  return out.sort();
}

/** The cache key: every input that changes the three artifacts. */
async function cacheKey(o: AgentBuildOptions, deno: string, libs: Map<string, string>) {
  const parts = [LAYOUT_VERSION, `epoch ${o.epoch ?? 0}`, `kestrel ${o.kestrel.kind}`];
  if (o.compile) parts.push("compile");
  if (o.kestrel.kind === "entry") parts.push(...await entryInputs(o.kestrel.path));
  const full = o.kestrel.kind === "entry" ? await fullValidatorEntry(o.kestrel.path) : null;
  if (full) parts.push(...await entryInputs(full));
  else parts.push(sha256(await Deno.readFile(o.kestrel.path)));
  if (o.kestrel.kind !== "compiled") parts.push(await statStamp(deno));
  for (const [name, path] of [...libs].sort()) parts.push(`${name} ${await statStamp(path)}`);
  parts.push(sha256(await Deno.readFile(BUSYBOX)));
  for (const f of [...await shimSources(), "Makefile"]) {
    parts.push(`${f} ${sha256(await Deno.readFile(join(SHIM_DIR, f)))}`);
  }
  for (const f of ["scripts/agent_image.ts", "scripts/cpio_newc.ts", "src/builder/ext4_pin.ts"]) {
    parts.push(`${f} ${sha256(await Deno.readFile(join(REPO, f)))}`);
  }
  return sha256(parts.join("\n")).slice(0, 16);
}

/** Sets every timestamp in the tree to `epoch`; returns its size and paths (image-absolute). */
async function normaliseTree(root: string, epoch: number) {
  let bytes = 0;
  const paths: string[] = [];
  const walk = async (dir: string, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      paths.push(`${rel}/${e.name}`);
      if (e.isDirectory) await walk(p, `${rel}/${e.name}`);
      else bytes += (await Deno.lstat(p)).size;
      if (!e.isSymlink) await Deno.utime(p, epoch, epoch);
    }
  };
  await walk(root, "");
  await Deno.utime(root, epoch, epoch);
  return { bytes, paths: paths.sort() };
}

/** A UUID derived from the key: same inputs, same filesystem bytes. */
function uuidFromKey(key: string): string {
  const h = sha256(`uuid ${key}`);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${
    h.slice(20, 32)
  }`;
}

async function buildTree(
  o: AgentBuildOptions,
  tree: string,
  deno: string,
  libs: Map<string, string>,
  launcher: string,
) {
  await Deno.mkdir(join(tree, "bin"), { recursive: true });
  await Deno.mkdir(join(tree, "lib"));
  for (const [name, path] of libs) await Deno.copyFile(path, join(tree, "lib", name));
  await Deno.copyFile(BUSYBOX, join(tree, "bin", "busybox"));
  await Deno.copyFile(launcher, join(tree, "kestrel"));
  if (o.kestrel.kind === "compiled") {
    await Deno.copyFile(o.kestrel.path, join(tree, "bin", "kestrel"));
  } else {
    await Deno.copyFile(deno, join(tree, "bin", "deno"));
    if (o.kestrel.kind === "bundle") {
      await Deno.copyFile(o.kestrel.path, join(tree, "kestrel.js"));
    } else {
      await run(Deno.execPath(), [
        "bundle",
        "--quiet",
        "--platform",
        "deno",
        "-o",
        join(tree, "kestrel.js"),
        o.kestrel.path,
      ]);
      // kestrel loads the zod validator from here only when its lite check cannot decide.
      const full = await fullValidatorEntry(o.kestrel.path);
      if (full) {
        const out = join(tree, "manifest_full.js");
        await run(Deno.execPath(), ["bundle", "--quiet", "--platform", "deno", "-o", out, full]);
        await Deno.chmod(out, 0o644);
      }
    }
  }
  if (o.compile && o.kestrel.kind !== "compiled") await tryCompile(o, tree);
  for (
    const f of ["kestrel", "bin/busybox", "bin/deno", "bin/kestrel", "lib/ld-linux-x86-64.so.2"]
  ) {
    if (await exists(join(tree, f))) await Deno.chmod(join(tree, f), 0o755);
  }
  for (const name of libs.keys()) {
    if (name !== "ld-linux-x86-64.so.2") await Deno.chmod(join(tree, "lib", name), 0o644);
  }
  if (await exists(join(tree, "kestrel.js"))) await Deno.chmod(join(tree, "kestrel.js"), 0o644);
}

/** Replaces deno + kestrel.js by a `deno compile`d bin/kestrel when denort is available. */
async function tryCompile(o: AgentBuildOptions, tree: string) {
  const log = o.log ?? ((l: string) => console.error(l));
  const out = join(tree, "bin", "kestrel");
  try {
    await run(Deno.execPath(), [
      "compile",
      "-A",
      "--no-config",
      "--no-lock",
      "-o",
      out,
      join(tree, "kestrel.js"),
    ]);
  } catch (e) {
    if (!(e instanceof AgentBuildError)) throw e;
    log(`agent: deno compile unavailable (${e.message.slice(-160)}); shipping deno + bundle`);
    return;
  }
  await Deno.remove(join(tree, "bin", "deno"));
  await Deno.remove(join(tree, "kestrel.js"));
  log("agent: kestrel compiled with deno compile");
}

/** The V8 flags the launcher (shim/launcher.c V8_FLAGS) runs kestrel with; the warm-up must match. */
export const KESTREL_V8_FLAGS = "--v8-flags=--max-semi-space-size=1";

const DENO_CACHES = ["v8_code_cache_v2", "dep_analysis_cache_v2", "node_analysis_cache_v2"];

/**
 * Runs kestrel.js once at build time, at its guest path inside a chroot in new
 * user + network namespaces (rootless, no network, cannot reboot the host), so
 * deno_dir/ carries V8's code cache and deno's module analysis: the launcher
 * copies it to DENO_DIR and the guest skips compiling the bundle from scratch.
 * kestrel run with no cmdline outside PID 1 stops at once; the timeout guards
 * any other entry. The SQLite files are checkpointed and vacuumed, which makes
 * them byte-identical between builds. Failure only costs the warm start.
 */
async function warmDenoDir(root: string, log: (line: string) => void) {
  const dir = join(root, AGENT_MOUNT, "deno_dir");
  await Deno.mkdir(join(root, "tmp"), { recursive: true });
  const a = AGENT_MOUNT;
  const out = await new Deno.Command("/usr/bin/unshare", {
    args: ["-rn", "/usr/sbin/chroot", root, `${a}/lib/ld-linux-x86-64.so.2`, "--library-path"]
      .concat([`${a}/lib`, `${a}/bin/deno`, "run", "-A", "--no-config", "--no-lock"])
      .concat([KESTREL_V8_FLAGS])
      .concat([`${a}/kestrel.js`]),
    clearEnv: true,
    env: { DENO_DIR: `${a}/deno_dir`, HOME: "/tmp", NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output().catch((e: Error) => ({
    success: false,
    stderr: new TextEncoder().encode(e.message),
  }));
  const { DatabaseSync } = await import("node:sqlite");
  const present = [];
  for (const name of DENO_CACHES) {
    if (!(await exists(join(dir, name)))) continue;
    const db = new DatabaseSync(join(dir, name));
    db.exec("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE; VACUUM;");
    db.close();
    present.push(name);
  }
  if (await exists(dir)) {
    for await (const e of Deno.readDir(dir)) {
      if (!DENO_CACHES.includes(e.name)) await Deno.remove(join(dir, e.name), { recursive: true });
    }
  }
  await Deno.remove(join(root, "tmp"), { recursive: true });
  if (!present.includes("v8_code_cache_v2")) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-2).join(" | ");
    log(`agent: no V8 code cache from the warm-up (${why}); the guest starts kestrel cold`);
    await Deno.remove(dir, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
}

/** mke2fs -d: rootless, sized to the content, no journal (read-only), then pinned times. */
async function makeImage(tree: string, image: string, key: string, epoch: number) {
  const { bytes, paths } = await normaliseTree(tree, epoch);
  const blocks = Math.ceil((bytes * 1.08 + 16 * 1024 * 1024) / 4096);
  const uuid = uuidFromKey(key);
  await run("mke2fs", [
    "-q",
    "-F",
    "-t",
    "ext4",
    "-b",
    "4096",
    "-m",
    "0",
    "-N",
    String(paths.length + 64),
    // No journal and no resize reserve: nothing ever writes to this image.
    // sparse_super2 with no backups leaves one superblock to pin below.
    "-O",
    "^has_journal,^resize_inode,sparse_super2",
    "-L",
    "volant-agent",
    "-U",
    uuid,
    "-E",
    `root_owner=0:0,hash_seed=${uuid},nodiscard,num_backup_sb=0`,
    "-d",
    tree,
    image,
    String(blocks),
  ], { E2FSPROGS_FAKE_TIME: String(epoch), SOURCE_DATE_EPOCH: String(epoch) });
  // mke2fs 1.47.0 stamps ctime/crtime, the root and inode 1 (bad blocks) with the clock.
  const cmds = ["<1>", "/", "/lost+found", ...paths].flatMap((p) =>
    ["atime", "ctime", "mtime", "crtime"].map((f) =>
      `sif ${p.startsWith("<") ? p : `"${p}"`} ${f} ${epoch}`
    )
  );
  const cmdFile = `${image}.debugfs`;
  await Deno.writeTextFile(cmdFile, cmds.join("\n") + "\n");
  await run("debugfs", ["-w", "-f", cmdFile, image]);
  await Deno.remove(cmdFile);
  pinSuperblock(image, epoch);
}

/** Busybox applet links (`busybox --list-full`), placed where FHS expects them. */
async function busyboxLinks(): Promise<CpioEntry[]> {
  const out: CpioEntry[] = [];
  for (const p of (await run(BUSYBOX, ["--list-full"])).split("\n").map((l) => l.trim())) {
    if (!/^(usr\/)?s?bin\/[A-Za-z0-9._\[-]+$/.test(p) || p === "bin/busybox") continue;
    const depth = p.split("/").length - 1;
    out.push({ path: p, type: "symlink", target: "../".repeat(depth) + "bin/busybox" });
  }
  return out;
}

/** The boot initramfs members: shim as /init, busybox + links, FHS dirs, console/null nodes. */
export async function bootEntries(shim: Uint8Array): Promise<CpioEntry[]> {
  const dirs = ["bin", "dev", "etc", "lib", "mnt", "proc", "root", "run", "sbin", "sys", "tmp"]
    .concat(["usr", "usr/bin", "usr/sbin", "volant", "volant/agent"]);
  const entries: CpioEntry[] = dirs.map((d) => ({
    path: d,
    type: "dir" as const,
    mode: d === "tmp" ? 0o1777 : d === "root" ? 0o700 : 0o755,
  }));
  entries.push(
    { path: "dev/console", type: "char", major: 5, minor: 1, mode: 0o600 },
    { path: "dev/null", type: "char", major: 1, minor: 3, mode: 0o666 },
    { path: "init", type: "file", data: shim, mode: 0o755 },
    { path: "bin/busybox", type: "file", data: await Deno.readFile(BUSYBOX), mode: 0o755 },
    ...await busyboxLinks(),
  );
  return entries;
}

/** The shared boot initramfs for rootfs-only plugins. */
export async function bootInitramfs(shim: Uint8Array): Promise<Uint8Array> {
  // zlib writes mtime 0 and no file name: the same bytes as `gzip -n`.
  return gzipSync(writeCpio(await bootEntries(shim)), { level: 9 });
}

/** Builds (or finds in the cache) agent.img, boot.cpio.gz and shim. */
export async function buildAgentArtifacts(o: AgentBuildOptions): Promise<AgentArtifacts> {
  const log = o.log ?? ((l: string) => console.error(l));
  const epoch = o.epoch ?? Number(Deno.env.get("SOURCE_DATE_EPOCH") ?? 0);
  const opts = { ...o, epoch };
  if (!(await exists(opts.kestrel.path))) {
    throw new AgentBuildError(
      `kestrel ${opts.kestrel.kind} '${opts.kestrel.path}' does not exist` +
        (opts.kestrel.kind === "entry" ? " (pass --entry, --bundle or --compiled)" : ""),
    );
  }
  if (!(await exists(BUSYBOX))) {
    throw new AgentBuildError(`${BUSYBOX} missing: apt-get install -y busybox-static`);
  }
  const deno = await Deno.realPath(opts.denoPath ?? Deno.execPath());
  const libs = await denoLibraries(opts.kestrel.kind === "compiled" ? opts.kestrel.path : deno);
  const key = await cacheKey(opts, deno, libs);
  const root = join(opts.cacheDir, "agent");
  const dir = join(root, key);
  const result = {
    key,
    dir,
    agentImage: join(dir, "agent.img"),
    bootInitramfs: join(dir, "boot.cpio.gz"),
    shim: join(dir, "shim"),
  };
  const publish = async () => {
    if (opts.setCurrent === false) return;
    const tmp = join(root, `current.tmp-${Deno.pid}`);
    await Deno.symlink(key, tmp);
    await Deno.rename(tmp, join(root, "current"));
  };
  if (!opts.force && await exists(join(dir, "SHA256SUMS"))) {
    log(`agent: cache hit (${key})`);
    const now = new Date();
    await Deno.utime(dir, now, now); // "recently used", for pruning
    await publish();
    return { ...result, cached: true };
  }

  const staging = join(root, `.staging-${key}-${Deno.pid}`);
  await Deno.mkdir(staging, { recursive: true });
  try {
    log(`agent: building ${key} (kestrel from ${opts.kestrel.kind} ${opts.kestrel.path})`);
    const cbin = join(staging, "c");
    await run("make", ["-s", "-C", SHIM_DIR, `OUT=${cbin}`]).catch((e) => {
      throw new AgentBuildError(
        `building shim/: ${e.message} (apt-get install -y musl-tools make)`,
      );
    });
    // The tree sits at <root>/volant/agent so kestrel can be warmed up in a chroot
    // at the very path it has in the guest (deno keys its caches by module URL).
    const root = join(staging, "root");
    const tree = join(root, AGENT_MOUNT);
    await buildTree(opts, tree, deno, libs, join(cbin, "launcher"));
    if (await exists(join(tree, "kestrel.js"))) await warmDenoDir(root, log);
    await makeImage(tree, join(staging, "agent.img"), key, epoch);
    const shim = await Deno.readFile(join(cbin, "shim"));
    await Deno.writeFile(join(staging, "boot.cpio.gz"), await bootInitramfs(shim));
    await Deno.writeFile(join(staging, "shim"), shim, { mode: 0o755 });
    let sums = "";
    for (const f of ["agent.img", "boot.cpio.gz", "shim"]) {
      sums += `${await fileSha256(join(staging, f))}  ${f}\n`;
    }
    await Deno.writeTextFile(join(staging, "SHA256SUMS"), sums);
    await Deno.remove(root, { recursive: true });
    await Deno.remove(cbin, { recursive: true });
    await Deno.remove(dir, { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    await Deno.rename(staging, dir);
  } catch (e) {
    await Deno.remove(staging, { recursive: true });
    throw e;
  }
  await publish();
  await pruneCache(root, key);
  return { ...result, cached: false };
}

/** How many built keys stay in <cache>/agent (each ~100 MiB); the least recently used go. */
const KEEP_BUILDS = 8;

/**
 * Removes the least recently used builds beyond KEEP_BUILDS, never the one just
 * built nor the one `current` points at. A VM already running keeps its open
 * image; only new boots of a pruned key would rebuild it.
 */
async function pruneCache(root: string, justBuilt: string) {
  const current = await Deno.readLink(join(root, "current")).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return "";
    throw e;
  });
  const builds: { name: string; used: number }[] = [];
  for await (const e of Deno.readDir(root)) {
    if (!e.isDirectory || !/^[0-9a-f]{16}$/.test(e.name)) continue;
    builds.push({
      name: e.name,
      used: (await Deno.stat(join(root, e.name))).mtime?.getTime() ?? 0,
    });
  }
  builds.sort((a, b) => b.used - a.used);
  for (const b of builds.slice(KEEP_BUILDS)) {
    if (b.name === justBuilt || b.name === current) continue;
    await Deno.remove(join(root, b.name), { recursive: true });
  }
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      entry: { type: "string" },
      bundle: { type: "string" },
      compiled: { type: "string" },
      "cache-dir": { type: "string" },
      "no-current": { type: "boolean" },
      force: { type: "boolean" },
      compile: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno task agent [--entry agent/main.ts | --bundle FILE | --compiled FILE] " +
        "[--compile] [--cache-dir DIR] [--no-current] [--force]",
    );
    Deno.exit(0);
  }
  const chosen = (["entry", "bundle", "compiled"] as const).filter((k) => values[k]);
  if (chosen.length > 1) {
    console.error("agent_image: give only one of --entry, --bundle, --compiled");
    Deno.exit(2);
  }
  const kind = chosen[0] ?? "entry";
  const kestrel = { kind, path: resolve(values[kind] ?? join(REPO, "agent", "main.ts")) };
  try {
    const a = await buildAgentArtifacts({
      kestrel,
      cacheDir: values["cache-dir"] ?? Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant",
      setCurrent: !values["no-current"],
      force: values.force,
      compile: values.compile,
    });
    console.log(`agent_image=${a.agentImage}`);
    console.log(`boot_initramfs=${a.bootInitramfs}`);
    console.log(`shim=${a.shim}`);
  } catch (e) {
    if (!(e instanceof AgentBuildError)) throw e;
    console.error(`agent_image: ${e.message}`);
    Deno.exit(1);
  }
}
