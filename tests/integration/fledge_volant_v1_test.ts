/**
 * Volant fledge's own fledge.toml files (tests/fixtures/volant, SOURCES.md
 * there) through the real `fledge` CLI: every one validates and says it was
 * read as Volant's v1 format; every initramfs one builds once its inputs are
 * present (payload stand-ins written here; `--busybox /bin/busybox` because
 * their busybox_url points at the internet, which this machine cannot reach;
 * `--agent` standing in for the release download). oci_rootfs files validate
 * and map to our config; building them is the OCI builder's.
 *
 * Takes about 40 s (one `deno run` per file and build).
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { readNewc } from "../../src/builder/_cpio_read.ts";
import { fledge, layout, REPO, shimFor } from "../../src/builder/_testing.ts";
import { gunzipSync } from "node:zlib";

const FIX = join(REPO, "tests/fixtures/volant");

interface Case {
  config: string;
  manifest?: string;
  strategy: "initramfs" | "oci_rootfs";
  name: string;
  init: "shim" | "custom" | "none";
  /** Payload stand-ins (path relative to the config's directory -> content). */
  inputs?: Record<string, string | [string, number]>;
  /** Extra build flags. */
  flags?: string[];
  /** Entries the built image must have. */
  has?: string[];
  entrypoint?: string[];
}

const SCRIPT: [string, number] = ["#!/bin/sh\nexec sleep 1000\n", 0o755];

const CASES: Case[] = [
  {
    config: "initramfs-plugin-example/fledge.toml",
    strategy: "initramfs",
    name: "initramfs-plugin-example",
    init: "shim",
    inputs: { "payload/caddy": SCRIPT, "payload/Caddyfile": ":80\n" },
    has: ["usr/bin/caddy", "etc/caddy/Caddyfile", "bin/kestrel", "init"],
    entrypoint: ["/usr/bin/caddy"],
  },
  {
    config: "oci-plugin-example/fledge.toml",
    strategy: "oci_rootfs",
    name: "oci-plugin-example",
    init: "shim",
  },
  {
    config: "fledge/docs/examples/initramfs-go-webserver.toml",
    manifest: "fledge/docs/examples/initramfs-go-webserver-manifest.toml",
    strategy: "initramfs",
    name: "go-webserver",
    init: "shim",
    inputs: { "payload/webserver": SCRIPT, "payload/config.yaml": "port: 8080\n" },
    has: ["usr/bin/webserver", "etc/webserver/config.yaml"],
    entrypoint: ["/usr/bin/webserver", "--config", "/etc/webserver/config.yaml"],
  },
  {
    config: "fledge/docs/examples/initramfs-minimal.toml",
    manifest: "fledge/docs/examples/initramfs-minimal-manifest.toml",
    strategy: "initramfs",
    name: "minimal",
    init: "shim",
    has: ["bin/busybox", "bin/kestrel"],
    entrypoint: ["/bin/httpd", "-f", "-p", "80", "-h", "/"],
  },
  {
    config: "fledge/docs/examples/initramfs-rust-service.toml",
    manifest: "fledge/docs/examples/initramfs-rust-service-manifest.toml",
    strategy: "initramfs",
    name: "rust-service",
    init: "shim",
    inputs: { "payload/my-service": SCRIPT, "payload/config.toml": "x = 1\n" },
    has: ["usr/bin/my-service"],
    entrypoint: ["/usr/bin/my-service", "--config", "/etc/my-service/config.toml"],
  },
  {
    config: "fledge/docs/examples/mode1-default.toml",
    strategy: "initramfs",
    name: "examples",
    init: "shim",
    inputs: { "caddy": SCRIPT },
    has: ["usr/local/bin/caddy"],
    entrypoint: ["/usr/local/bin/caddy"],
  },
  {
    config: "fledge/docs/examples/mode2-custom-init.toml",
    strategy: "initramfs",
    name: "examples",
    init: "custom",
    inputs: { "my-init.sh": SCRIPT, "redis-server": SCRIPT },
    has: ["usr/local/bin/my-init.sh", ".volant_init", "usr/bin/redis-server"],
  },
  {
    config: "fledge/docs/examples/mode3-no-init.toml",
    strategy: "initramfs",
    name: "examples",
    init: "none",
    inputs: { "target/x86_64-unknown-linux-musl/release/my-supervisor": SCRIPT },
    has: ["init"],
  },
  {
    config: "fledge/docs/examples/oci-nginx.toml",
    manifest: "fledge/docs/examples/oci-nginx-manifest.toml",
    strategy: "oci_rootfs",
    name: "nginx",
    init: "shim",
  },
  {
    config: "fledge/docs/examples/oci-postgres.toml",
    manifest: "fledge/docs/examples/oci-postgres-manifest.toml",
    strategy: "oci_rootfs",
    name: "postgres",
    init: "shim",
  },
  {
    config: "fledge/docs/examples/oci-python-flask.toml",
    manifest: "fledge/docs/examples/oci-python-flask-manifest.toml",
    strategy: "oci_rootfs",
    name: "flask-app",
    init: "shim",
  },
  {
    config: "fledge/test-fledge.toml",
    manifest: "fledge/test-manifest.toml",
    strategy: "initramfs",
    name: "test-nginx",
    // Volant copied the host file /usr/bin/test to /init: no shim.
    init: "none",
    inputs: { "README.md": "# readme\n" },
    has: ["init", "etc/readme.txt"],
  },
];

Deno.test("volant fledge fixtures: the table covers every fledge.toml", () => {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(join(FIX, rel))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) walk(r);
      else if (e.name.endsWith(".toml") && !e.name.includes("manifest")) found.push(r);
    }
  };
  walk("");
  assert.deepEqual(found.sort(), CASES.map((c) => c.config).sort());
});

for (const c of CASES) {
  Deno.test(`volant fledge fixture ${c.config}: validates${c.strategy === "initramfs" ? ", builds" : ""}`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "fledge-v1-" });
    try {
      // The config (and its manifest.toml) in a directory named like its repository.
      const repo = join(dir, c.name === "examples" ? "examples" : c.config.split("/")[0]);
      const work = c.config.startsWith("fledge/")
        ? (c.name === "examples" ? join(dir, "examples") : join(dir, dirname(c.config)))
        : repo;
      Deno.mkdirSync(work, { recursive: true });
      const cfg = join(work, "fledge.toml");
      Deno.copyFileSync(join(FIX, c.config), cfg);
      const m = c.manifest ? ["-m", join(FIX, c.manifest)] : [];
      const v = await fledge(["validate", "-c", cfg, ...m, "--schema-only", "--json"]);
      assert.equal(v.code, 0, v.stderr + v.stdout);
      const summary = JSON.parse(v.stdout);
      assert.equal(summary.format, "volant-v1");
      assert.equal(summary.format_name, "Volant fledge v1 fledge.toml");
      assert.equal(summary.strategy, c.strategy);
      assert.equal(summary.name, c.name === "examples" ? "examples" : c.name);
      assert.equal(summary.init, c.init);
      if (c.strategy === "oci_rootfs") {
        // Built by the OCI builder (tests/integration/oci_registry_test.ts): here, the image it names.
        assert.equal(typeof summary.image, "string");
        assert.equal(summary.not_buildable, undefined);
        return;
      }
      layout(work, c.inputs ?? {});
      const shim = shimFor(dir);
      const agent = join(dir, "kestrel");
      Deno.writeTextFileSync(agent, "#!/bin/sh\n");
      const agentFlags = c.init === "shim" ? ["--agent", agent] : [];
      const out = join(dir, "out", "plugin.cpio.gz");
      const b = await fledge([
        "build",
        "-c",
        cfg,
        ...m,
        "-o",
        out,
        "--shim",
        shim,
        "--busybox",
        "/bin/busybox",
        "--no-kernel",
        ...agentFlags,
        ...(c.flags ?? []),
        "--json",
        "-q",
      ]);
      assert.equal(b.code, 0, b.stderr + b.stdout);
      const result = JSON.parse(b.stdout);
      assert.equal(result.artifact.path, out);
      const names = new Set(
        readNewc(new Uint8Array(gunzipSync(Deno.readFileSync(out)))).map((r) => r.name),
      );
      for (const h of c.has ?? []) assert.ok(names.has(h), `${h} in ${[...names].join(" ")}`);
      const manifest = JSON.parse(Deno.readTextFileSync(result.manifest.path));
      assert.equal(manifest.initramfs.url, "plugin.cpio.gz");
      assert.equal(manifest.initramfs.checksum, `sha256:${result.artifact.sha256}`);
      if (c.entrypoint) assert.deepEqual(manifest.workload.entrypoint, c.entrypoint);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("volant fledge v1: release without --agent says how; -o DIR still means a directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fledge-v1-" });
  try {
    const work = join(dir, "caddy");
    Deno.mkdirSync(work);
    Deno.copyFileSync(join(FIX, "initramfs-plugin-example/fledge.toml"), join(work, "fledge.toml"));
    layout(work, { "payload/caddy": SCRIPT, "payload/Caddyfile": ":80\n" });
    const shim = shimFor(dir);
    const common = ["build", "--shim", shim, "--busybox", "/bin/busybox", "-q"];
    const r = await fledge(common, { cwd: work });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /agent\.source_strategy: "release": give --agent PATH, --agent URL --agent-sha256 HEX, or --agent none/,
    );
    // --agent none: no kestrel in the image; the default output is Volant's ./plugin.cpio.gz.
    const none = await fledge([...common, "--agent", "none"], { cwd: work });
    assert.equal(none.code, 0, none.stderr);
    const names = readNewc(
      new Uint8Array(gunzipSync(Deno.readFileSync(join(work, "plugin.cpio.gz")))),
    ).map((e) => e.name);
    assert.ok(!names.includes("bin/kestrel"));
    assert.ok(names.includes("usr/bin/caddy"));
    Deno.mkdirSync(join(work, "dist"));
    const d = await fledge([...common, "--agent", "none", "-o", "dist", "--json"], { cwd: work });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(JSON.parse(d.stdout).artifact.file, "caddy-0.1.0.cpio.gz");
    // Our own format is still read as ours.
    const ours = await fledge(["init", join(dir, "mine")]);
    assert.equal(ours.code, 0, ours.stderr);
    const v = await fledge(["validate", "-c", join(dir, "mine", "fledge.toml")]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /ok, read as Volant-TS fledge\.toml/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
