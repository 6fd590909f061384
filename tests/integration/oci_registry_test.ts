/**
 * `fledge build` with strategy oci_rootfs against real registries: Debian's
 * docker-registry on loopback in a network namespace this test creates, plain
 * HTTP and HTTPS with token auth (tests/_helpers/oci_registry.ts), images
 * built by umoci and pushed by skopeo. Every build runs the real CLI inside
 * the namespace. Covers the anonymous bearer flow, credentials from the flag,
 * the environment and ~/.docker/config.json, the blob cache (a second build
 * pulls nothing; a partial blob resumes), reproducible bytes, zstd layers,
 * Volant's oci-plugin-example fledge.toml, and bad input: one line each,
 * nothing left in the output directory or the cache.
 *
 * Needs root and `apt-get install -y docker-registry skopeo umoci socat curl
 * attr e2fsprogs`. About 60-90 s.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  addArmOnlyIndex,
  makeFeatureImage,
  makeUniqueImage,
  sh,
} from "../../src/builder/oci/_testing.ts";
import { startRegistries, type TestRegistries } from "../_helpers/oci_registry.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
/** The running deno's cache, so builds with HOME elsewhere find the npm packages offline. */
const DENO_DIR = Deno.env.get("DENO_DIR") ??
  JSON.parse(new TextDecoder().decode(
    new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" }).outputSync()
      .stdout,
  )).denoDir;
const EXAMPLE = new URL("../fixtures/oci-plugin-example.fledge.toml", import.meta.url).pathname;

interface Built {
  code: number;
  stdout: string;
  stderr: string;
  // deno-lint-ignore no-explicit-any
  json: any;
}

function toml(image: string, extra = ""): string {
  return `version = "1"\nstrategy = "oci_rootfs"\n[source]\nimage = "${image}"\n${extra}`;
}

async function fledge(
  reg: TestRegistries,
  config: string,
  out: string,
  cache: string,
  flags: string[] = [],
  env: Record<string, string> = {},
): Promise<Built> {
  const file = join(out + ".toml");
  Deno.writeTextFileSync(file, config);
  const r = await reg.ns.run([
    Deno.execPath(),
    "run",
    "-A",
    MAIN,
    "fledge",
    "build",
    "-c",
    file,
    "-o",
    out,
    "--cache-dir",
    cache,
    "--json",
    "-q",
    ...flags,
  ], {
    // HOME elsewhere: the root user's own ~/.docker/config.json must not leak in.
    env: { FLEDGE_REGISTRY_TIMEOUT_MS: "3000", HOME: "/nonexistent", DENO_DIR, ...env },
  });
  let json = undefined;
  try {
    json = JSON.parse(r.stdout);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
  return { ...r, json };
}

function listDir(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

async function debugfsStat(image: string, path: string): Promise<string> {
  return await sh("debugfs", ["-R", `stat ${path}`, image]);
}

Deno.test({
  name: "oci registry: pull, convert, cache, auth, reproducibility and bad input",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  if (Deno.uid() !== 0) throw new Error("this test needs root (netns, owners in the rootfs)");
  const reg = await startRegistries();
  const work = Deno.makeTempDirSync({ prefix: "oci-reg-test-" });
  const P = reg.plain;
  const insecure = ["--insecure-registry", P];
  try {
    const feature = await makeFeatureImage(join(work, "img"));
    await reg.push(feature, "public/feature:v1");
    await reg.push(feature, "private/feature:v1");
    await reg.push(feature, "library/nginx:alpine");
    await sh("skopeo", [
      "copy",
      "--quiet",
      "--dest-compress-format",
      "zstd",
      `oci:${feature}`,
      `oci:${work}/zstd:v1`,
    ]);
    await reg.push(`${work}/zstd:v1`, "public/zstd:v1");
    addArmOnlyIndex(feature, "armonly");
    await reg.push(`${feature.replace(/:v1$/, "")}:armonly`, "public/armonly:v1", true);
    const corrupt = await makeUniqueImage(join(work, "uniq"), "c1");
    await reg.push(corrupt, "public/corrupt:v1");

    let first: Built;
    await t.step(
      "plain HTTP: builds an ext4 rootfs and a manifest from the image config",
      async () => {
        first = await fledge(
          reg,
          toml(`${P}/public/feature:v1`),
          `${work}/out1`,
          `${work}/cache1`,
          insecure,
        );
        assert.equal(first.code, 0, first.stderr);
        const j = first.json;
        assert.equal(j.strategy, "oci_rootfs");
        assert.match(j.image.digest, /^sha256:[0-9a-f]{64}$/);
        const layers = await layerDigests(reg, "public/feature", "v1");
        const layerBytes = layers.reduce((n, l) => n + l.size, 0);
        // Manifest + config + every layer, nothing twice.
        assert.ok(
          j.pulled_bytes > layerBytes && j.pulled_bytes < layerBytes + 8192,
          `pulled ${j.pulled_bytes}, layers ${layerBytes}`,
        );
        assert.deepEqual(listDir(`${work}/out1`), [
          "SHA256SUMS",
          "feature-v1.img",
          "feature.manifest.json",
        ]);
        const m = JSON.parse(Deno.readTextFileSync(j.manifest.path));
        assert.deepEqual(m.workload, {
          type: "http",
          entrypoint: ["/usr/bin/tool", "--serve"],
          base_url: "http://127.0.0.1:8000",
          env: { MODE: "test" },
          workdir: "/srv",
          user: "1000:1000",
        });
        assert.equal(m.rootfs.url, "feature-v1.img");
        assert.equal(m.rootfs.checksum, `sha256:${j.rootfs.sha256}`);
        assert.equal(m.image_digest, j.image.digest);
        assert.equal(m.labels["org.example.kind"], "fixture");
        assert.deepEqual(m.health_check, { endpoint: "/", timeout_ms: 10000 });
        const img = j.rootfs.path;
        await sh("e2fsck", ["-fn", img]);
        assert.match(await debugfsStat(img, "/usr/bin/tool"), /Mode:\s+02755/);
        assert.match(await debugfsStat(img, "/usr/bin/tool-hard"), /Mode:\s+04755/);
        assert.match(await debugfsStat(img, "/home/web/notes"), /User:\s+1000\s+Group:\s+1000/);
        assert.match(await debugfsStat(img, "/dev/null"), /Type: character special/);
        assert.match(await debugfsStat(img, "/usr/share/doc/b.txt"), /user\.volant.*kept/s);
        assert.match(await sh("debugfs", ["-R", "ls /opt/data", img]), /new/);
        assert.doesNotMatch(await sh("debugfs", ["-R", "ls /opt/data", img]), /\bsub\b/);
      },
    );

    await t.step(
      "a second build pulls nothing (by digest: 0 bytes; by tag: the manifest only)",
      async () => {
        const byDigest = await fledge(
          reg,
          toml(`${P}/public/feature@${first.json.image.digest}`, `[plugin]\nversion = "1"\n`),
          `${work}/out2`,
          `${work}/cache1`,
          insecure,
        );
        assert.equal(byDigest.code, 0, byDigest.stderr);
        assert.equal(byDigest.json.pulled_bytes, 0);
        const byTag = await fledge(
          reg,
          toml(`${P}/public/feature:v1`),
          `${work}/out3`,
          `${work}/cache1`,
          insecure,
        );
        assert.equal(byTag.code, 0, byTag.stderr);
        assert.ok(byTag.json.pulled_bytes < 4096, `pulled ${byTag.json.pulled_bytes}`);
        assert.equal(byTag.json.rootfs.sha256, first.json.rootfs.sha256);
      },
    );

    await t.step("same image digest, same bytes (fresh cache, other directory)", async () => {
      const again = await fledge(
        reg,
        toml(`${P}/public/feature:v1`),
        `${work}/out4`,
        `${work}/cache2`,
        insecure,
      );
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.json.rootfs.cached, false);
      assert.equal(again.json.rootfs.sha256, first.json.rootfs.sha256);
    });

    await t.step("a partial blob resumes with a Range request", async () => {
      const cache = `${work}/cache3`;
      const layers = await layerDigests(reg, "public/feature", "v1");
      const big = layers.sort((a, b) => b.size - a.size)[0];
      const full = Deno.readFileSync(reg.blobData(big.digest));
      const half = Math.floor(full.length / 2);
      Deno.mkdirSync(`${cache}/blobs/sha256`, { recursive: true });
      Deno.writeFileSync(
        `${cache}/blobs/sha256/${big.digest.slice(7)}.partial`,
        full.subarray(0, half),
      );
      const r = await fledge(reg, toml(`${P}/public/feature:v1`), `${work}/out5`, cache, insecure);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.pulled_bytes, first.json.pulled_bytes - half);
      assert.equal(r.json.rootfs.sha256, first.json.rootfs.sha256);
    });

    const tls = ["--registry-ca", reg.caFile];
    await t.step("HTTPS + token auth: anonymous pull of a public repository", async () => {
      const r = await fledge(
        reg,
        toml(`${reg.tls}/public/feature:v1`),
        `${work}/out6`,
        `${work}/cache4`,
        tls,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.rootfs.sha256 !== undefined, true);
    });

    await t.step(
      "HTTPS + token auth: private repository needs credentials (flag, env, docker config)",
      async () => {
        const image = toml(`${reg.tls}/private/feature:v1`);
        const anon = await fledge(reg, image, `${work}/out7`, `${work}/cache5`, tls);
        assert.equal(anon.code, 5, anon.stderr);
        assert.equal(
          anon.json.error.message,
          `${reg.tls}/private/feature: access denied: HTTP 401 (UNAUTHORIZED: authentication required); credentials: --registry-auth USER:PASSWORD`,
        );
        assert.deepEqual(listDir(`${work}/out7`), []);
        const flag = await fledge(reg, image, `${work}/out8`, `${work}/cache5`, [
          ...tls,
          "--registry-auth",
          "tester:s3cret",
        ]);
        assert.equal(flag.code, 0, flag.stderr);
        const env = await fledge(reg, image, `${work}/out9`, `${work}/cache6`, tls, {
          FLEDGE_REGISTRY_AUTH: "tester:s3cret",
        });
        assert.equal(env.code, 0, env.stderr);
        const docker = `${work}/docker`;
        Deno.mkdirSync(docker);
        Deno.writeTextFileSync(
          `${docker}/config.json`,
          JSON.stringify({ auths: { [reg.tls]: { auth: btoa("tester:s3cret") } } }),
        );
        const cfg = await fledge(reg, image, `${work}/out10`, `${work}/cache7`, tls, {
          DOCKER_CONFIG: docker,
        });
        assert.equal(cfg.code, 0, cfg.stderr);
        const bad = await fledge(reg, image, `${work}/out11`, `${work}/cache8`, [
          ...tls,
          "--registry-auth",
          "tester:wrong",
        ]);
        assert.equal(bad.code, 5);
        assert.match(
          bad.json.error.message,
          /access denied: token server http:\/\/127\.0\.0\.1:5001 answered HTTP 401 \(credentials from --registry-auth\)$/,
        );
        const untrusted = await fledge(
          reg,
          toml(`${reg.tls}/public/feature:v1`),
          `${work}/out12`,
          `${work}/cache9`,
        );
        assert.equal(untrusted.code, 7);
        assert.match(untrusted.json.error.message, /^registry 127\.0\.0\.1:5443: TLS error: /);
      },
    );

    await t.step("zstd layers", async () => {
      const r = await fledge(
        reg,
        toml(`${P}/public/zstd:v1`),
        `${work}/out13`,
        `${work}/cache10`,
        insecure,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.json.unpack.whiteouts, 1);
      assert.equal(r.json.unpack.opaques, 1);
    });

    await t.step(
      "Volant's oci-plugin-example fledge.toml: valid; builds but for the internet",
      async () => {
        const text = Deno.readTextFileSync(EXAMPLE);
        const offline = await fledge(reg, text, `${work}/out14`, `${work}/cache11`);
        assert.equal(offline.code, 7, offline.stderr);
        assert.match(offline.json.error.message, /^registry registry-1\.docker\.io: /);
        assert.deepEqual(listDir(`${work}/out14`), []);
        const local = await fledge(
          reg,
          text.replace('"nginx:alpine"', `"${P}/library/nginx:alpine"`),
          `${work}/out15`,
          `${work}/cache11`,
          insecure,
        );
        assert.equal(local.code, 0, local.stderr);
        assert.equal(local.json.name, "nginx");
        assert.equal(local.json.version, "alpine");
        // size_buffer_mb = 100: at least 100 MiB of headroom over a sub-MiB tree.
        assert.ok(local.json.rootfs.size >= 100 * 1048576, `size ${local.json.rootfs.size}`);
      },
    );

    await t.step("bad input: one clear line each, nothing left behind", async () => {
      const cases: [string, string[], number, RegExp][] = [
        [
          `${P}/public/nosuchrepo:v1`,
          insecure,
          3,
          /^image 127\.0\.0\.1:5000\/public\/nosuchrepo:v1 not found in 127\.0\.0\.1:5000 \(NAME_UNKNOWN|MANIFEST_UNKNOWN/,
        ],
        [
          `${P}/public/feature:nosuchtag`,
          insecure,
          3,
          /^image 127\.0\.0\.1:5000\/public\/feature:nosuchtag not found in 127\.0\.0\.1:5000 \(MANIFEST_UNKNOWN/,
        ],
        [
          `${P}/public/armonly:v1`,
          insecure,
          3,
          /: no linux\/amd64 image in the index \(platforms: linux\/arm64\)$/,
        ],
        [
          `${P}/public/corrupt:v1`,
          insecure,
          6,
          /^blob sha256:[0-9a-f]{12} of 127\.0\.0\.1:5000\/public\/corrupt: digest mismatch: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}$/,
        ],
        [
          "127.0.0.1:5011/public/feature:v1",
          ["--insecure-registry", "127.0.0.1:5011"],
          7,
          /^registry 127\.0\.0\.1:5011: connection refused \(is the registry running\?\)$/,
        ],
        [
          `${reg.stall}/public/feature:v1`,
          ["--insecure-registry", reg.stall],
          7,
          /^registry 127\.0\.0\.1:5009: no answer within 3000 ms$/,
        ],
        [
          `${P}/public/feature:v1`,
          [],
          7,
          /^registry 127\.0\.0\.1:5000: TLS handshake failed: the registry speaks plain HTTP \(pass --insecure-registry HOST:PORT\)$/,
        ],
        ["Not/A:Valid:Ref", [], 2, /^source\.image: "Not\/A:Valid:Ref" /],
      ];
      // Corrupt the unique image's layer in the registry's storage (same length, other bytes).
      const [corruptLayer] = await layerDigests(reg, "public/corrupt", "v1");
      const data = Deno.readFileSync(reg.blobData(corruptLayer.digest));
      data[100] ^= 0xff;
      Deno.writeFileSync(reg.blobData(corruptLayer.digest), data);
      for (const [i, [image, flags, code, message]] of cases.entries()) {
        const out = `${work}/bad${i}`;
        const cache = `${work}/badcache${i}`;
        const started = Date.now();
        const r = await fledge(reg, toml(image), out, cache, flags);
        assert.equal(r.code, code, `${image}: ${r.stderr}`);
        assert.match(r.json.error.message, message, image);
        assert.equal(r.json.error.message.includes("\n"), false);
        assert.deepEqual(listDir(out), [], `${image}: output dir`);
        assert.ok(Date.now() - started < 20_000, `${image} took ${Date.now() - started} ms`);
        const blobs = listDir(`${cache}/blobs/sha256`);
        if (code === 6) {
          assert.ok(!blobs.some((b) => b.startsWith(corruptLayer.digest.slice(7))), blobs.join());
        }
        assert.deepEqual(listDir(`${cache}/rootfs`), []);
      }
      // The same through the human output: exactly one line on stderr.
      const human = await reg.ns.run([
        Deno.execPath(),
        "run",
        "-A",
        MAIN,
        "fledge",
        "build",
        "-q",
        "-c",
        `${work}/bad0.toml`,
        "-o",
        `${work}/bad0`,
        "--cache-dir",
        `${work}/badcache0`,
        ...insecure,
      ]);
      assert.equal(human.code, 3);
      assert.equal(human.stderr.trim().split("\n").length, 1, human.stderr);
    });

    await t.step("a layer with '..' paths is refused and leaves nothing", async () => {
      const evilDir = join(work, "evil");
      const base = await makeUniqueImage(evilDir, "e1");
      const tar = join(evilDir, "evil.tar");
      await sh("python3", [
        "-c",
        `import tarfile, io
t = tarfile.open(${JSON.stringify(tar)}, "w")
i = tarfile.TarInfo("../../etc/cron.d/evil"); d = b"* * * * * root true\\n"; i.size = len(d); t.addfile(i, io.BytesIO(d))
t.close()`,
      ]);
      await sh("umoci", ["raw", "add-layer", "--image", base, tar]);
      await reg.push(base, "public/evil:v1");
      const r = await fledge(
        reg,
        toml(`${P}/public/evil:v1`),
        `${work}/out16`,
        `${work}/cache12`,
        insecure,
      );
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.json.error.message,
        /^layer 2 sha256:[0-9a-f]{64}: entry "\.\.\/\.\.\/etc\/cron\.d\/evil" escapes the root \('\.\.'\)$/,
      );
      assert.deepEqual(listDir(`${work}/out16`), []);
      assert.deepEqual(listDir(`${work}/cache12/rootfs`), []);
    });
  } finally {
    await reg.stop();
    Deno.removeSync(work, { recursive: true });
  }
});

/** The layer descriptors of `repo:tag` as the plain registry serves them. */
async function layerDigests(reg: TestRegistries, repo: string, tag: string) {
  const out = await reg.ns.check([
    "curl",
    "-sf",
    "-H",
    "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
    `http://${reg.plain}/v2/${repo}/manifests/${tag}`,
  ]);
  return (JSON.parse(out) as { layers: { digest: string; size: number }[] }).layers;
}
