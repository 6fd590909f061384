/**
 * Rootless conversion: the same image built by root (owners and devices in
 * the tree) and by an unprivileged user (owners, devices and non-user xattrs
 * recorded and written into the image by debugfs) gives filesystems that
 * agree on every path's type, mode, owner, size, mtime, link target, device
 * number and xattrs, read back with debugfs. The unprivileged build runs a
 * `deno bundle` of the builder as uid 65534 (setpriv), so it needs no access
 * to root's Deno cache. Needs root to start and `apt-get install -y umoci
 * attr e2fsprogs`. About 20 s.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeFeatureImage, sh } from "./_testing.ts";
import { buildOciRootfs } from "./build.ts";
import { describeTree } from "./tree_compare.ts";

const NOBODY = 65534;

/** `stat` of each path through one debugfs run, reduced to what must agree. */
async function statAll(image: string, paths: string[]): Promise<Map<string, string>> {
  const dir = Deno.makeTempDirSync();
  try {
    const script = join(dir, "cmds");
    Deno.writeTextFileSync(script, paths.map((p) => `stat "${p}"`).join("\n") + "\n");
    const out = await sh("debugfs", ["-f", script, image]);
    const result = new Map<string, string>();
    const blocks = out.split(/^debugfs: /m).slice(1);
    for (const [i, block] of blocks.entries()) {
      const keep = block.split("\n").filter((l) =>
        /Type:|User:|mtime:|Fast link dest|Device major|^\s+(user|security|trusted)\./.test(l)
      ).map((l) => l.replace(/Inode: \d+\s+/, "").replace(/Generation: \d+/, "").trim());
      result.set(paths[i], keep.join(" | "));
    }
    return result;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("rootless: an unprivileged build writes the same owners, modes and devices as root's", async () => {
  if (Deno.uid() !== 0) throw new Error("this test needs root (to compare with a root build)");
  const dir = Deno.makeTempDirSync({ prefix: "oci-rootless-" });
  try {
    const image = await makeFeatureImage(join(dir, "img"));
    const asRoot = await buildOciRootfs({
      image: `oci:${image}`,
      outDir: join(dir, "root-out"),
      cacheDir: join(dir, "root-cache"),
    });
    const bundle = join(dir, "builder.js");
    await sh(Deno.execPath(), [
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      "-o",
      bundle,
      new URL("./build.ts", import.meta.url).pathname,
    ]);
    const main = join(dir, "main.js");
    Deno.writeTextFileSync(
      main,
      `import { buildOciRootfs } from "./builder.js";
const r = await buildOciRootfs({ image: ${JSON.stringify(`oci:${image}`)}, outDir: ${
        JSON.stringify(join(dir, "user-out"))
      }, cacheDir: ${JSON.stringify(join(dir, "user-cache"))} });
console.log(JSON.stringify({ path: r.rootfs.path, sha256: r.rootfs.sha256 }));`,
    );
    await sh("chmod", ["-R", "a+rX", dir]);
    await sh("chmod", ["a+rwx", dir]);
    const denoDir = join(dir, "deno-dir");
    const out = await new Deno.Command("setpriv", {
      args: [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        Deno.execPath(),
        "run",
        "-A",
        "--no-config",
        main,
      ],
      env: { DENO_DIR: denoDir, HOME: dir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    const asUser = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    assert.equal(Deno.statSync(asUser.path).uid, NOBODY);
    const fsck = await new Deno.Command("e2fsck", {
      args: ["-fn", asUser.path],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(fsck.success, new TextDecoder().decode(fsck.stdout));

    // Every path of the image, from umoci's own unpack.
    await sh("umoci", ["unpack", "--image", image, join(dir, "bundle")]);
    const paths = ["/", ...(await describeTree(join(dir, "bundle", "rootfs"))).keys()];
    const a = await statAll(asRoot.rootfs.path, paths);
    const b = await statAll(asUser.path, paths);
    for (const p of paths) assert.equal(b.get(p), a.get(p), p);
    assert.match(a.get("/home/web/notes")!, /User:\s+1000\s+Group:\s+1000/);
    assert.match(a.get("/dev/null")!, /Type: character special/);
    assert.match(a.get("/dev/null")!, /Device major\/minor number: 01:03/);
    assert.match(a.get("/usr/bin/tool")!, /Mode:\s+02755/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
