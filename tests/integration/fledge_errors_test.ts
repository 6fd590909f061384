/**
 * Bad configs through the real CLI: each gives one clear line naming the field,
 * the documented exit code, and leaves nothing half-written in the output dir.
 * Downloads are served by a real HTTP server on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256Hex } from "../../src/builder/digest.ts";
import { fledge, layout, listTree, shimFor } from "../../src/builder/_testing.ts";

const BASE = `version = "1"
strategy = "initramfs"
[plugin]
name = "bad"
version = "0.1.0"
[workload]
entrypoint = ["/bin/httpd", "-f"]
base_url = "http://127.0.0.1:80"
`;

/** Builds `toml` in a fresh project; returns the run and what the output dir holds. */
async function buildWith(
  toml: string,
  opts: { files?: Record<string, string>; args?: string[]; shim?: boolean } = {},
) {
  const dir = Deno.makeTempDirSync({ prefix: "fledge-bad-" });
  try {
    layout(dir, { "fledge.toml": toml, ...(opts.files ?? {}) });
    const shimArgs = opts.shim === false ? [] : ["--shim", shimFor(dir)];
    const r = await fledge(["build", ...shimArgs, ...(opts.args ?? [])], {
      cwd: dir,
      env: { VOLANT_CACHE_DIR: join(dir, "no-cache") },
    });
    let left: string[] = [];
    try {
      left = listTree(join(dir, "dist"));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return { ...r, left };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("fledge build: a missing mapping source names the mapping (exit 3)", async () => {
  const r = await buildWith(BASE + `[mappings]\n"nope.txt" = "/etc/nope.txt"\n`);
  assert.equal(r.code, 3);
  assert.match(
    r.stderr,
    /^fledge: fledge\.toml: mappings\.nope\.txt: \/.*\/nope\.txt does not exist$/m,
  );
  assert.deepEqual(r.left, []);
});

Deno.test("fledge build: a bad mode names the field (exit 2)", async () => {
  const r = await buildWith(BASE + `[mappings]\n"a" = { to = "/a", mode = "rwx" }\n`, {
    files: { a: "x" },
  });
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr.trim(),
    'fledge: fledge.toml: mappings.a.mode: must be 3 or 4 octal digits such as "0755" (got "rwx")',
  );
});

Deno.test("fledge build: an unknown key is named (exit 2)", async () => {
  const r = await buildWith(BASE.replace(`name = "bad"`, `name = "bad"\nnmae = "typo"`));
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim(), "fledge: fledge.toml: plugin.nmae: unknown key");
});

Deno.test("fledge build: a TOML syntax error names line and column", async () => {
  const r = await buildWith(BASE + `[mappings\n`);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^fledge: fledge\.toml: line 9:\d+: /m);
});

Deno.test("fledge build: a bad checksum on a download names the field (exit 6), nothing written", async () => {
  const payload = Deno.readFileSync("/bin/busybox");
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(payload),
  );
  try {
    const url = `http://127.0.0.1:${server.addr.port}/busybox`;
    const wrong = "0".repeat(64);
    const r = await buildWith(
      BASE + `[source]\nbusybox_url = "${url}"\nbusybox_sha256 = "sha256:${wrong}"\n`,
    );
    assert.equal(r.code, 6);
    assert.equal(
      r.stderr.trim().split("\n").at(-1),
      `fledge: fledge.toml: source.busybox_url: expected sha256:${wrong}, got sha256:${
        sha256Hex(payload)
      }`,
    );
    assert.deepEqual(r.left, [], "the scratch dir and temp files are gone");
    // The right checksum builds, and the downloaded busybox's own applets are linked.
    const ok = await buildWith(
      BASE + `[source]\nbusybox_url = "${url}"\nbusybox_sha256 = "${sha256Hex(payload)}"\n`,
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(ok.left, ["SHA256SUMS", "bad-0.1.0.cpio.gz", "bad.manifest.json"]);
    // An agent over http with the wrong checksum.
    const agent = await buildWith(
      BASE +
        `[agent]\nsource_strategy = "http"\nurl = "${url}"\nchecksum = "sha256:${wrong}"\n`,
    );
    assert.equal(agent.code, 6);
    assert.match(agent.stderr, /fledge: fledge\.toml: agent\.url: expected sha256:0{64}, got/);
  } finally {
    await server.shutdown();
  }
});

Deno.test("fledge build: a missing shim says how to build it (exit 3)", async () => {
  const r = await buildWith(BASE, { shim: false });
  assert.equal(r.code, 3);
  assert.match(
    r.stderr,
    /fledge: shim: .*no-cache\/agent\/current\/shim does not exist: build it with `deno task agent`/,
  );
});

Deno.test("fledge build: oci_rootfs without [source] image and agent release are refused clearly", async () => {
  const oci = await buildWith(BASE.replace(`"initramfs"`, `"oci_rootfs"`));
  assert.equal(oci.code, 2);
  assert.equal(oci.stderr.trim(), "fledge: fledge.toml: source: is required");
  const rel = await buildWith(BASE + `[agent]\nsource_strategy = "release"\nversion = "latest"\n`);
  assert.equal(rel.code, 2);
  assert.match(rel.stderr, /agent\.source_strategy: "release" is not supported/);
});

Deno.test("fledge build: init modes are checked against the image", async () => {
  const custom = await buildWith(BASE + `[init]\npath = "/sbin/my-init"\n`);
  assert.equal(custom.code, 2);
  assert.match(custom.stderr, /init\.path: \/sbin\/my-init is not executable in the image/);
  const none = await buildWith(BASE + `[init]\nnone = true\n`, { shim: false });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /init\.none: the image has no executable \/init/);
  const over = await buildWith(BASE + `[mappings]\n"i" = "/init"\n`, { files: { i: "x" } });
  assert.equal(over.code, 2);
  assert.match(over.stderr, /\/init is the shim's place/);
  const entry = await buildWith(BASE.replace(`"/bin/httpd"`, `"/usr/bin/missing"`));
  assert.equal(entry.code, 2);
  assert.match(entry.stderr, /workload\.entrypoint\.0: \/usr\/bin\/missing is not in the image/);
  const dup = await buildWith(BASE + `[mappings]\n"a" = "/x"\n"b" = "/x"\n`, {
    files: { a: "1", b: "2" },
  });
  assert.equal(dup.code, 2);
  assert.match(dup.stderr, /mappings\.b: maps to \/x, like "a"/);
});
