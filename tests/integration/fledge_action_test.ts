/**
 * The GitHub Action's two scripts, run for real against a local "release": a
 * tarball + SHA256SUMS served over HTTP on 127.0.0.1 (GitHub itself is out of
 * reach here, so VOLANT_RELEASE_BASE_URL points at the local server). The
 * tarball's `volant` is a launcher that runs this checkout's src/main.ts, as a
 * release built with `deno compile` would run the compiled binary.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256Hex } from "../../src/builder/digest.ts";
import { REPO, shimFor } from "../../src/builder/_testing.ts";
import { parseManifest } from "../../src/manifest/mod.ts";

const ACTION = join(REPO, "src", "builder", "action");

async function sh(script: string, env: Record<string, string>, cwd: string) {
  const out = await new Deno.Command("bash", {
    args: [join(ACTION, script)],
    env: { NO_COLOR: "1", ...env },
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function outputs(file: string): Record<string, string> {
  return Object.fromEntries(
    Deno.readTextFileSync(file).trim().split("\n").map((l) => {
      const i = l.indexOf("=");
      return [l.slice(0, i), l.slice(i + 1)];
    }),
  );
}

Deno.test("action: installs a verified release, builds the example, exposes the outputs", async () => {
  const tmp = Deno.makeTempDirSync({ prefix: "fledge-action-" });
  const release = join(tmp, "release");
  // The release layout (scripts/release.ts): bin/volant, share/volant/shim.
  const top = join(tmp, "stage", "volant-v9.9.9-linux-x86_64");
  Deno.mkdirSync(release, { recursive: true });
  Deno.mkdirSync(join(top, "bin"), { recursive: true });
  Deno.mkdirSync(join(top, "share", "volant"), { recursive: true });
  Deno.writeTextFileSync(
    join(top, "bin", "volant"),
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A --quiet "${
      join(REPO, "src", "main.ts")
    }" "$(basename "$0")" "$@"\n`,
  );
  Deno.chmodSync(join(top, "bin", "volant"), 0o755);
  Deno.copyFileSync(shimFor(tmp), join(top, "share", "volant", "shim"));
  const asset = "volant-v9.9.9-linux-x86_64.tar.gz";
  const tar = await new Deno.Command("tar", {
    args: ["-czf", join(release, asset), "-C", join(tmp, "stage"), "volant-v9.9.9-linux-x86_64"],
  }).output();
  assert.ok(tar.success);
  const good = `${sha256Hex(Deno.readFileSync(join(release, asset)))}  ${asset}\n`;
  Deno.writeTextFileSync(join(release, "SHA256SUMS"), good);

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const name = new URL(req.url).pathname.slice(1);
    try {
      return new Response(Deno.readFileSync(join(release, name)));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return new Response("no", { status: 404 });
      throw error;
    }
  });
  const gh = (n: string) => join(tmp, n);
  const env = {
    VOLANT_VERSION: "v9.9.9",
    VOLANT_RELEASE_BASE_URL: `http://127.0.0.1:${server.addr.port}`,
    RUNNER_TEMP: tmp,
    GITHUB_PATH: gh("github_path"),
    GITHUB_ENV: gh("github_env"),
    GITHUB_OUTPUT: gh("install_output"),
  };
  try {
    const inst = await sh("install_volant.sh", env, tmp);
    assert.equal(inst.code, 0, inst.stderr);
    assert.match(inst.stdout, /install-volant: volant-v9\.9\.9-linux-x86_64\.tar\.gz \(sha256:/);
    const binDir = Deno.readTextFileSync(gh("github_path")).trim();
    const shim = Deno.readTextFileSync(gh("github_env")).trim().replace(/^FLEDGE_SHIM=/, "");
    assert.equal(Deno.readLinkSync(join(binDir, "fledge")), "volant");

    const work = join(tmp, "work");
    Deno.mkdirSync(work);
    const build = await sh("build.sh", {
      PATH: `${binDir}:${Deno.env.get("PATH")}`,
      FLEDGE_SHIM: shim,
      FLEDGE_CONFIG: join(REPO, "examples", "static-http", "fledge.toml"),
      FLEDGE_OUTPUT: "dist",
      FLEDGE_BASE_URL: "https://example.org/releases/v0.1.0",
      GITHUB_OUTPUT: gh("build_output"),
    }, work);
    assert.equal(build.code, 0, build.stderr);
    const o = outputs(gh("build_output"));
    assert.equal(o["artifact"], "static-http-0.1.0.cpio.gz");
    assert.equal(o["artifact-path"], join(work, "dist", "static-http-0.1.0.cpio.gz"));
    assert.equal(o["checksum"], `sha256:${sha256Hex(Deno.readFileSync(o["artifact-path"]))}`);
    const manifest = parseManifest(JSON.parse(Deno.readTextFileSync(o["manifest-path"])));
    assert.equal(
      manifest.initramfs?.url,
      "https://example.org/releases/v0.1.0/static-http-0.1.0.cpio.gz",
    );
    assert.equal(manifest.initramfs?.checksum, o["checksum"]);
    assert.equal(o["sha256sums-path"], join(work, "dist", "SHA256SUMS"));

    // A release whose SHA256SUMS does not match is refused before anything is unpacked.
    Deno.writeTextFileSync(join(release, "SHA256SUMS"), `${"0".repeat(64)}  ${asset}\n`);
    const bad = await sh("install_volant.sh", { ...env, INSTALL_DIR: gh("bad-install") }, tmp);
    assert.notEqual(bad.code, 0);
    assert.match(
      bad.stderr,
      /install-volant: checksum mismatch for volant-v9\.9\.9-linux-x86_64\.tar\.gz/,
    );
    assert.throws(() => Deno.statSync(gh("bad-install")), Deno.errors.NotFound);
    // A missing version is a clear error.
    const nov = await sh("install_volant.sh", { ...env, VOLANT_VERSION: "" }, tmp);
    assert.match(nov.stderr, /volant-version is required/);
  } finally {
    await server.shutdown();
    Deno.removeSync(tmp, { recursive: true });
  }
});
