/**
 * The image's file tree: the launcher as /kestrel, deno and its libraries,
 * busybox, the PTY helper (bin/volant-pty, shim/pty.c), and kestrel (bundled, given as a bundle, or compiled), with fixed
 * modes; and the pass that pins every timestamp before mke2fs reads it.
 *
 * @module
 */
import { join } from "node:path";
import { exists } from "../../shared/fs.ts";
import { fullValidatorEntry } from "./cache_key.ts";
import { tryCompile } from "./compile.ts";
import { type AgentBuildOptions, BUSYBOX } from "./options.ts";
import { run } from "./run.ts";

const lexists = (path: string) => exists(path, { followLinks: false });

/** Lays out the image tree at `tree`. */
export async function buildTree(
  o: AgentBuildOptions,
  tree: string,
  deno: string,
  libs: Map<string, string>,
  launcher: string,
  ptyHelper: string,
): Promise<void> {
  await Deno.mkdir(join(tree, "bin"), { recursive: true });
  await Deno.mkdir(join(tree, "lib"));
  for (const [name, path] of libs) await Deno.copyFile(path, join(tree, "lib", name));
  await Deno.copyFile(BUSYBOX, join(tree, "bin", "busybox"));
  await Deno.copyFile(launcher, join(tree, "kestrel"));
  await Deno.copyFile(ptyHelper, join(tree, "bin", "volant-pty"));
  if (o.kestrel.kind === "compiled") {
    await Deno.copyFile(o.kestrel.path, join(tree, "bin", "kestrel"));
  } else {
    await Deno.copyFile(deno, join(tree, "bin", "deno"));
    if (o.kestrel.kind === "bundle") {
      await Deno.copyFile(o.kestrel.path, join(tree, "kestrel.js"));
    } else {
      // Minified: V8 keeps the source of a running script in its heap, and the unminified bundle
      // (comments with non-ASCII text) is a two-byte string of twice its ~1 MB size.
      await run(Deno.execPath(), [
        "bundle",
        "--quiet",
        "--minify",
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
        await run(Deno.execPath(), [
          "bundle",
          "--quiet",
          "--minify",
          "--platform",
          "deno",
          "-o",
          out,
          full,
        ]);
        await Deno.chmod(out, 0o644);
      }
    }
  }
  if (o.compile && o.kestrel.kind !== "compiled") await tryCompile(o, tree);
  for (
    const f of [
      "kestrel",
      "bin/busybox",
      "bin/volant-pty",
      "bin/deno",
      "bin/kestrel",
      "lib/ld-linux-x86-64.so.2",
    ]
  ) {
    if (await lexists(join(tree, f))) await Deno.chmod(join(tree, f), 0o755);
  }
  for (const name of libs.keys()) {
    if (name !== "ld-linux-x86-64.so.2") await Deno.chmod(join(tree, "lib", name), 0o644);
  }
  if (await lexists(join(tree, "kestrel.js"))) await Deno.chmod(join(tree, "kestrel.js"), 0o644);
}

/** Sets every timestamp in the tree to `epoch`; returns its size and paths (image-absolute). */
export async function normaliseTree(
  root: string,
  epoch: number,
): Promise<{ bytes: number; paths: string[] }> {
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
