import assert from "node:assert/strict";
import { parse } from "smol-toml";
import { VolantError } from "../errors.ts";
import { type FledgeConfig, initModeOf, parseFledgeConfig, parseModeString } from "./fledge.ts";

const BASE = `
version = "1"
strategy = "initramfs"
[plugin]
name = "web"
version = "0.1.0"
[workload]
entrypoint = ["/bin/httpd", "-f"]
base_url = "http://127.0.0.1:80"
`;

function ok(extra = ""): FledgeConfig {
  return parseFledgeConfig(parse(BASE + extra));
}

/** The problems of an invalid config, as "field: message" lines. */
function problems(toml: string): string[] {
  try {
    parseFledgeConfig(parse(toml));
  } catch (error) {
    assert.ok(error instanceof VolantError);
    assert.equal(error.code, "invalid_input");
    return error.problems.map((p) => `${p.field}: ${p.message}`);
  }
  assert.fail("expected the config to be rejected");
}

Deno.test("fledge.toml: the minimal file validates; init defaults to the shim", () => {
  const c = ok();
  assert.equal(c.plugin.name, "web");
  assert.deepEqual(initModeOf(c), { kind: "shim" });
});

Deno.test("fledge.toml: every table and key the docs list is accepted", () => {
  const c = ok(`
[resources]
cpu_cores = 2
memory_mb = 256
[health_check]
endpoint = "/"
timeout_ms = 3000
[labels]
team = "web"
[actions.reload]
method = "POST"
path = "/reload"
[agent]
source_strategy = "http"
url = "http://127.0.0.1:9/kestrel"
checksum = "sha256:${"a".repeat(64)}"
[init]
path = "/sbin/my-init"
[source]
busybox_url = "https://example.org/busybox"
busybox_sha256 = "${"b".repeat(64)}"
[mappings]
"www" = "/srv/www"
"bin/tool" = { to = "/usr/bin/tool", mode = "0750" }
[output]
compression = "zstd"
`);
  assert.deepEqual(initModeOf(c), { kind: "custom", path: "/sbin/my-init" });
  assert.deepEqual(c.mappings, {
    "www": { to: "/srv/www" },
    "bin/tool": { to: "/usr/bin/tool", mode: "0750" },
  });
  assert.equal(parseModeString("0750"), 0o750);
});

Deno.test("fledge.toml: unknown keys are errors naming the key, in any table", () => {
  assert.deepEqual(
    problems(BASE.replace(`name = "web"`, `name = "web"\nnmae = "x"`) + `\nfoo = 1`),
    // `foo` after the last table header lands in [workload].
    ["plugin.nmae: unknown key", "workload.foo: unknown key"],
  );
  assert.deepEqual(problems(`colour = "red"\n` + BASE), ["colour: unknown key"]);
  assert.deepEqual(problems(BASE + `[mappings]\n"a" = { to = "/a", owner = "root" }`), [
    "mappings.a.owner: unknown key",
  ]);
});

Deno.test("fledge.toml: bad values name the field", () => {
  assert.deepEqual(problems(BASE.replace(`version = "1"`, `version = 1`)), [
    'version: must be "1" (a string) (got 1)',
  ]);
  assert.match(problems(BASE.replace(`"web"`, `"Web_1"`))[0], /^plugin\.name: must be a DNS label/);
  assert.match(problems(BASE.replace(`"0.1.0"`, `"1/2"`))[0], /^plugin\.version: /);
  assert.match(
    problems(BASE + `[mappings]\n"a" = "relative/x"`)[0],
    /^mappings\.a\.to: must be an absolute/,
  );
  assert.match(problems(BASE + `[mappings]\n"a" = "/x/../etc"`)[0], /^mappings\.a\.to: /);
  assert.match(
    problems(BASE + `[mappings]\n"a" = { to = "/x", mode = "0999" }`)[0],
    /^mappings\.a\.mode: must be 3 or 4 octal digits/,
  );
  assert.match(
    problems(BASE + `[mappings]\n"a" = { to = "/x", mode = 0o755 }`)[0],
    /^mappings\.a\.mode: must be a string of octal digits/,
  );
  assert.match(
    problems(BASE + `[source]\nbusybox_url = "https://x/b"\nbusybox_sha256 = "abc"`)[0],
    /^source\.busybox_sha256: must be sha256:<64 hex digits>/,
  );
  assert.match(problems(BASE.replace(`"initramfs"`, `"squash"`))[0], /^strategy: /);
});

Deno.test("fledge.toml: cross-field rules (agent, init, busybox)", () => {
  assert.deepEqual(problems(BASE + `[agent]\nsource_strategy = "local"`), [
    'agent.path: is required for source_strategy "local"',
  ]);
  assert.deepEqual(problems(BASE + `[agent]\nsource_strategy = "http"\nurl = "http://h/k"`), [
    'agent.checksum: is required for source_strategy "http" (sha256:<hex>)',
  ]);
  assert.match(
    problems(BASE + `[agent]\nsource_strategy = "release"\nversion = "latest"`)[0],
    /^agent\.source_strategy: "release" is not supported/,
  );
  assert.deepEqual(problems(BASE + `[init]\npath = "/x"\nnone = true`), [
    "init.none: cannot be combined with init.path",
  ]);
  assert.deepEqual(problems(BASE + `[source]\nbusybox_url = "https://x/b"`), [
    "source.busybox_sha256: source.busybox_url and source.busybox_sha256 go together (both or neither)",
  ]);
  assert.deepEqual(problems(BASE + `[filesystem]\ntype = "ext4"`), [
    'filesystem: is only used by strategy "oci_rootfs"',
  ]);
});

Deno.test("fledge.toml: the Go fledge's oci_rootfs file is recognised (the builder answers not_implemented)", () => {
  const c = parseFledgeConfig(parse(
    BASE.replace(`"initramfs"`, `"oci_rootfs"`) + `
[source]
image = "nginx:alpine"
[filesystem]
type = "ext4"
size_buffer_mb = 100
preallocate = false
`,
  ));
  assert.equal(c.strategy, "oci_rootfs");
});
