/**
 * The fledge CLI surface through the real entry point: --help/--version, init ->
 * validate -> build, --json for success and failure, zstd output, and an output
 * dir inside a mapped directory (a rebuild must not pack its own outputs).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import zlib from "node:zlib";
import { readNewc } from "../../src/builder/_cpio_read.ts";
import { sha256Hex } from "../../src/builder/digest.ts";
import { fledge, layout, shimFor } from "../../src/builder/_testing.ts";

Deno.test("fledge CLI: --version, --help everywhere, usage errors exit 2", async () => {
  const v = await fledge(["--version"]);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^fledge \d+\.\d+\.\d+\n$/);
  const h = await fledge(["--help"]);
  assert.match(h.stdout, /fledge build +\[-c FILE\] \[-o DIR\|FILE\]/);
  for (const cmd of ["build", "validate", "init"]) {
    const r = await fledge([cmd, "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^Usage: fledge ${cmd}`));
  }
  const unknown = await fledge(["bake"]);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr.trim(), "fledge: unknown command 'bake' (see fledge --help)");
  const flag = await fledge(["build", "--colour"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^fledge: Unknown option '--colour'/);
});

Deno.test("fledge CLI: init writes a starter that validates and builds; --json both ways", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "fledge-cli-" });
  try {
    const init = await fledge(["init", "My App"], { cwd: dir });
    assert.equal(init.code, 0, init.stderr);
    const project = join(dir, "My App");
    assert.match(Deno.readTextFileSync(join(project, "fledge.toml")), /^name = "my-app"/m);
    const again = await fledge(["init", "My App"], { cwd: dir });
    assert.equal(again.code, 4);
    assert.match(again.stderr, /fledge\.toml already exists \(use --force to overwrite\)/);

    const v = await fledge(["validate", "--json"], { cwd: project });
    assert.equal(v.code, 0, v.stderr);
    assert.deepEqual(JSON.parse(v.stdout), {
      ok: true,
      config: join(project, "fledge.toml"),
      name: "my-app",
      version: "0.1.0",
      strategy: "initramfs",
      init: "shim",
      mappings: 1,
      format: "volant-ts",
      format_name: "Volant-TS fledge.toml",
    });
    const b = await fledge(["build", "--shim", shimFor(dir), "--json", "-q"], { cwd: project });
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stderr, "", "-q: no progress lines");
    const s = JSON.parse(b.stdout);
    assert.equal(s.artifact.path, "dist/my-app-0.1.0.cpio.gz");
    assert.equal(s.artifact.sha256, sha256Hex(Deno.readFileSync(join(project, s.artifact.path))));

    Deno.removeSync(join(project, "www"), { recursive: true });
    const bad = await fledge(["validate", "--json"], { cwd: project });
    assert.equal(bad.code, 3);
    const err = JSON.parse(bad.stdout);
    assert.equal(err.ok, false);
    assert.equal(err.error.code, "not_found");
    assert.equal(err.error.problems[0].field, "mappings.www");
    const plain = await fledge(["validate"], { cwd: project });
    assert.match(plain.stderr, /^fledge: fledge\.toml: mappings\.www: \/.*\/www does not exist$/m);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("fledge CLI: zstd output, and an output dir inside a mapped directory", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "fledge-cli-" });
  const shimDir = Deno.makeTempDirSync({ prefix: "fledge-shim-" });
  try {
    layout(dir, {
      "fledge.toml": `version = "1"
strategy = "initramfs"
[plugin]
name = "self"
version = "1"
[workload]
entrypoint = ["/bin/httpd", "-f"]
base_url = "http://127.0.0.1:80"
[mappings]
"." = "/srv/app"
[output]
compression = "zstd"
`,
      "page.html": "hi\n",
    });
    const shim = shimFor(shimDir);
    const first = await fledge(["build", "--shim", shim, "-q"], { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    const a = Deno.readFileSync(join(dir, "dist", "self-1.cpio.zst"));
    const second = await fledge(["build", "--shim", shim, "-q"], { cwd: dir });
    assert.equal(second.code, 0, second.stderr);
    const b = Deno.readFileSync(join(dir, "dist", "self-1.cpio.zst"));
    assert.equal(sha256Hex(a), sha256Hex(b), "the second build did not pack dist/");
    const names = readNewc(new Uint8Array(zlib.zstdDecompressSync(b))).map((r) => r.name);
    assert.ok(names.includes("srv/app/page.html"));
    assert.ok(!names.some((n) => n.startsWith("srv/app/dist")), names.join(" "));
  } finally {
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(shimDir, { recursive: true });
  }
});
