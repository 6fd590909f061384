/**
 * `volar plugins validate` as a real subprocess (invoked as `volar`), with
 * no daemon anywhere: a valid file exits 0; an invalid one prints one line
 * per problem naming the field and exits 2; URLs are fetched from a local
 * Deno.serve on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { writePlugin } from "../../src/api/testing/fixtures.ts";
import { runVolar } from "../../src/cli/testing.ts";

/** Volant's caddy example (seed 001) with its placeholder checksum, plus two more mistakes. */
const BROKEN = {
  name: "Caddy_Server",
  version: "0.1.0",
  runtime: "caddy",
  initramfs: { url: "/path/to/plugin.cpio.gz", checksum: "sha256:abc123..." },
  resources: { cpu_cores: 1, memory_mb: 512 },
  workload: {
    type: "http",
    entrypoint: ["/usr/bin/caddy", "run", "--config", "/etc/caddy/Caddyfile"],
    base_url: "http://127.0.0.1:80",
  },
  bogus_key: true,
};

Deno.test("plugins validate: a valid file exits 0 without any daemon", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await writePlugin(dir, "web");
    const r = await runVolar(["plugins", "validate", path], {
      env: { VOLANT_SOCKET: `${dir}/no-daemon.sock` },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${path}: valid manifest web 1.0.0 (runtime web)\n`);
    assert.equal(r.stderr, "");
    const json = await runVolar(["plugins", "validate", "-o", "json", path]);
    assert.equal(JSON.parse(json.stdout).manifest.labels["volant.plugin"], "web");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plugins validate: one line per problem naming the field, exit 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify(BROKEN));
    const r = await runVolar(["plugins", "validate", "bad.json"], { cwd: dir });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n");
    assert.ok(lines.every((l) => /^volar: [\w.()-]+: .+/.test(l)), r.stderr);
    const fields = lines.map((l) => l.split(": ")[1]);
    assert.ok(fields.includes("initramfs.checksum"), r.stderr);
    assert.ok(fields.includes("name"), r.stderr);
    assert.ok(fields.includes("bogus_key"), r.stderr);

    await Deno.writeTextFile(`${dir}/notjson.json`, "{ nope");
    const nj = await runVolar(["plugins", "validate", `${dir}/notjson.json`]);
    assert.equal(nj.code, 2);
    assert.match(nj.stderr, /^volar: .*notjson\.json: not valid JSON \(.+\)\n$/);

    const missing = await runVolar(["plugins", "validate", `${dir}/absent.json`]);
    assert.equal(missing.code, 3);
    assert.equal(missing.stderr, `volar: ${dir}/absent.json: no such file\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plugins validate: http URLs (valid, invalid, 404, unreachable)", async () => {
  const dir = await Deno.makeTempDir();
  const good = await Deno.readTextFile(await writePlugin(dir, "web"));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/good.json") return new Response(good);
    if (path === "/bad.json") return new Response(JSON.stringify(BROKEN));
    return new Response("no", { status: 404 });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    const ok = await runVolar(["plugins", "validate", `${base}/good.json`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /valid manifest web 1\.0\.0/);
    const bad = await runVolar(["plugins", "validate", `${base}/bad.json`]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^volar: initramfs\.checksum: /m);
    const gone = await runVolar(["plugins", "validate", `${base}/gone.json`]);
    assert.equal(gone.code, 3);
    assert.equal(gone.stderr, `volar: ${base}/gone.json: HTTP 404 Not Found\n`);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
  const down = await runVolar(["plugins", "validate", `${base}/good.json`]);
  assert.equal(down.code, 7);
  assert.match(
    down.stderr,
    /^volar: http:\/\/127\.0\.0\.1:\d+\/good\.json: cannot fetch \(.+\)\n$/,
  );
});
