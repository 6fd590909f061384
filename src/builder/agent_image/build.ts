/**
 * `buildAgentArtifacts`: finds the three artifacts in the cache or builds them
 * in a staging directory (shim, tree, warm-up, ext4 image, boot initramfs,
 * checksums) and renames it into place, so a cache entry is whole or absent.
 *
 * @module
 */
import { join } from "node:path";
import { exists } from "../../shared/fs.ts";
import { bootInitramfs } from "./boot_initramfs.ts";
import { pruneCache, publishCurrent, writeSums } from "./cache_dir.ts";
import { cacheKey } from "./cache_key.ts";
import { makeImage } from "./ext4_image.ts";
import { denoLibraries } from "./ldd.ts";
import {
  AGENT_MOUNT,
  type AgentArtifacts,
  type AgentBuildOptions,
  BUSYBOX,
  SHIM_DIR,
} from "./options.ts";
import { AgentBuildError, run } from "./run.ts";
import { buildTree } from "./tree.ts";
import { warmDenoDir } from "./warm_up.ts";

const lexists = (path: string) => exists(path, { followLinks: false });

/** Builds (or finds in the cache) agent.img, boot.cpio.gz and shim. */
export async function buildAgentArtifacts(o: AgentBuildOptions): Promise<AgentArtifacts> {
  const log = o.log ?? ((l: string) => console.error(l));
  const epoch = o.epoch ?? Number(Deno.env.get("SOURCE_DATE_EPOCH") ?? 0);
  const opts = { ...o, epoch };
  if (!(await lexists(opts.kestrel.path))) {
    throw new AgentBuildError(
      `kestrel ${opts.kestrel.kind} '${opts.kestrel.path}' does not exist` +
        (opts.kestrel.kind === "entry" ? " (pass --entry, --bundle or --compiled)" : ""),
    );
  }
  if (!(await lexists(BUSYBOX))) {
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
  const publish = () => opts.setCurrent === false ? Promise.resolve() : publishCurrent(root, key);
  if (!opts.force && await lexists(join(dir, "SHA256SUMS"))) {
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
    const chroot = join(staging, "root");
    const tree = join(chroot, AGENT_MOUNT);
    await buildTree(opts, tree, deno, libs, join(cbin, "launcher"), join(cbin, "volant-pty"));
    if (await lexists(join(tree, "kestrel.js"))) await warmDenoDir(chroot, log);
    await makeImage(tree, join(staging, "agent.img"), key, epoch);
    const shim = await Deno.readFile(join(cbin, "shim"));
    await Deno.writeFile(join(staging, "boot.cpio.gz"), await bootInitramfs(shim));
    await Deno.writeFile(join(staging, "shim"), shim, { mode: 0o755 });
    await writeSums(staging, ["agent.img", "boot.cpio.gz", "shim"]);
    await Deno.remove(chroot, { recursive: true });
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
