import assert from "node:assert/strict";
import { parseManifest, validateManifest } from "./validate.ts";
import { VolantError } from "../errors.ts";

const HEX = "0123456789abcdef".repeat(4);

/** The caddy manifest from Volant's introduction, verbatim but for the checksum. */
function caddy(checksum = "sha256:abc123...") {
  return {
    schema_version: "1.0",
    name: "caddy",
    version: "0.1.0",
    runtime: "caddy",
    enabled: true,
    initramfs: { url: "/path/to/plugin.cpio.gz", checksum },
    resources: { cpu_cores: 1, memory_mb: 512 },
    workload: {
      type: "http",
      entrypoint: ["/usr/bin/caddy", "run", "--config", "/etc/caddy/Caddyfile"],
      base_url: "http://127.0.0.1:80",
      env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    },
    health_check: { endpoint: "/", timeout_ms: 10000 },
  };
}

/** A Volant-style rootfs plugin using every optional field. */
function everyField(): Record<string, unknown> {
  return {
    $schema: "https://volantvm.com/schemas/plugin-manifest-v1.json",
    schema_version: "1.0",
    name: "nginx",
    version: "1.27.0",
    runtime: "nginx",
    enabled: false,
    image: "docker.io/library/nginx:1.27",
    image_digest: "sha256:" + HEX,
    rootfs: { url: "https://example.com/nginx.img", checksum: HEX, format: "qcow2" },
    initramfs: { url: "file:///srv/boot.cpio.gz", checksum: "sha256:" + HEX.toUpperCase() },
    disks: [{
      name: "data",
      source: "data.img",
      checksum: HEX,
      format: "raw",
      readonly: false,
      target: "vdc",
    }],
    resources: { cpu_cores: 2, memory_mb: 1024 },
    workload: {
      type: "http",
      base_url: "http://127.0.0.1:80",
      entrypoint: ["/usr/sbin/nginx", "-g", "daemon off;"],
      env: { NGINX_PORT: "80" },
      workdir: "/",
      user: "101:101",
      restart: "always",
    },
    health_check: { endpoint: "/healthz", timeout_ms: 5000 },
    actions: {
      reload: {
        description: "reload config",
        method: "POST",
        path: "/reload",
        timeout_ms: 5000,
        payload_schema: { type: "object", properties: { force: { type: "boolean" } } },
      },
    },
    cloud_init: {
      datasource: "NoCloud",
      seed_mode: "vfat",
      user_data: { inline: true, content: "#cloud-config\n" },
    },
    network: { mode: "bridged", subnet: "192.168.127.0/24", gateway: "192.168.127.1" },
    devices: { pci_passthrough: ["0000:01:00.0"], allowlist: ["10de:*"] },
    openapi: "/openapi.json",
    labels: { team: "web" },
  };
}

Deno.test("the caddy example validates once its checksum is real", () => {
  const result = validateManifest(caddy("sha256:" + HEX));
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.manifest.runtime, "caddy");
  assert.deepEqual(result.manifest.labels, { "volant.plugin": "caddy", "volant.runtime": "caddy" });
});

Deno.test("the caddy example with its placeholder checksum fails naming initramfs.checksum", () => {
  const result = validateManifest(caddy());
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(result.problems.map((p) => p.field), ["initramfs.checksum"]);
});

Deno.test("a manifest with every Volant field (and our extensions) validates", () => {
  const result = validateManifest(everyField());
  assert.ok(result.ok, JSON.stringify(result));
});

Deno.test("bare hex and sha256:-prefixed checksums are both accepted, any case", () => {
  for (const checksum of [HEX, "sha256:" + HEX, HEX.toUpperCase()]) {
    assert.ok(validateManifest(caddy(checksum)).ok, checksum);
  }
});

Deno.test("normalisation: schema_version, runtime, rootfs.format and system labels", () => {
  const m = everyField();
  delete m.schema_version;
  delete m.runtime;
  (m.rootfs as Record<string, unknown>).format = undefined;
  const out = parseManifest(m);
  assert.equal(out.schema_version, "1.0");
  assert.equal(out.runtime, "nginx");
  assert.equal(out.rootfs?.format, "raw");
  assert.equal(out.labels?.["volant.plugin"], "nginx");
  assert.equal(out.labels?.team, "web");
});

// Mutations poke at arbitrary nested fields: a loose type keeps the table readable.
// deno-lint-ignore no-explicit-any
type Loose = Record<string, any>;
type Mutation = [string, (m: Loose) => void, string];

/** Each mutation of a valid manifest, and the field its error must name. */
const INVALID: Mutation[] = [
  ["name missing", (m) => delete m.name, "name"],
  [
    "openapi as a URL (the daemon fetches nothing)",
    (m) => (m.openapi = "https://x/o.json"),
    "openapi",
  ],
  ["openapi as a host file", (m) => (m.openapi = "file:///etc/shadow"), "openapi"],
  ["action payload_schema not an object", (m) => {
    m.actions = { a: { method: "POST", path: "/a", payload_schema: "object" } };
  }, "actions.a.payload_schema"],
  ["name upper case", (m) => (m.name = "Caddy"), "name"],
  ["name with a slash (path traversal)", (m) => (m.name = "../etc"), "name"],
  ["name too long", (m) => (m.name = "a".repeat(64)), "name"],
  ["name ending in a dash", (m) => (m.name = "web-"), "name"],
  ["version empty", (m) => (m.version = ""), "version"],
  ["runtime not a label", (m) => (m.runtime = "my runtime"), "runtime"],
  ["no boot medium", (m) => delete m.initramfs, "initramfs"],
  // Volant's rule: an empty url means no initramfs, so no boot medium is left.
  ["initramfs url empty", (m) => (m.initramfs.url = ""), "initramfs"],
  ["initramfs url with an ftp scheme", (m) => (m.initramfs.url = "ftp://x/y"), "initramfs.url"],
  ["checksum too short", (m) => (m.initramfs.checksum = "sha256:abc"), "initramfs.checksum"],
  [
    "checksum of another algorithm",
    (m) => (m.initramfs.checksum = "md5:" + HEX),
    "initramfs.checksum",
  ],
  ["rootfs format ext4", (m) => (m.rootfs = { url: "r.img", format: "ext4" }), "rootfs.format"],
  ["resources missing", (m) => delete m.resources, "resources"],
  ["cpu_cores zero", (m) => (m.resources.cpu_cores = 0), "resources.cpu_cores"],
  ["memory_mb fractional", (m) => (m.resources.memory_mb = 12.5), "resources.memory_mb"],
  ["memory_mb as a string", (m) => (m.resources.memory_mb = "512"), "resources.memory_mb"],
  ["workload type grpc", (m) => (m.workload.type = "grpc"), "workload.type"],
  ["workload without base_url", (m) => delete m.workload.base_url, "workload.base_url"],
  ["base_url not a URL", (m) => (m.workload.base_url = "localhost"), "workload.base_url"],
  ["entrypoint empty", (m) => (m.workload.entrypoint = []), "workload.entrypoint"],
  ["entrypoint as a string", (m) => (m.workload.entrypoint = "/bin/x"), "workload.entrypoint"],
  ["relative workdir", (m) => (m.workload.workdir = "srv"), "workload.workdir"],
  ["bad restart policy", (m) => (m.workload.restart = "sometimes"), "workload.restart"],
  [
    "health endpoint not a path",
    (m) => (m.health_check.endpoint = "healthz"),
    "health_check.endpoint",
  ],
  ["unknown top-level key", (m) => (m.replicas = 3), "replicas"],
  ["unknown nested key", (m) => (m.workload.command = "x"), "workload.command"],
  ["action without a path", (m) => (m.actions = { a: { method: "POST" } }), "actions.a.path"],
  ["network mode unknown", (m) => (m.network = { mode: "host" }), "network.mode"],
  [
    "bad PCI address",
    (m) => (m.devices = { pci_passthrough: ["01:00.0"] }),
    "devices.pci_passthrough.0",
  ],
  ["disk without a source", (m) => (m.disks = [{ name: "d" }]), "disks.0.source"],
  [
    "duplicate disk names",
    (m) => (m.disks = [{ name: "d", source: "a" }, { name: "d", source: "b" }]),
    "disks.1.name",
  ],
  [
    "cloud-init doc with content and path",
    (m) => (m.cloud_init = { user_data: { content: "x", path: "/y" } }),
    "cloud_init.user_data",
  ],
  [
    "cloud-init seed mode iso",
    (m) => (m.cloud_init = { seed_mode: "iso" }),
    "cloud_init.seed_mode",
  ],
  ["env name with a space", (m) => (m.workload.env = { "A B": "1" }), "workload.env.A B"],
  ["labels value not a string", (m) => (m.labels = { a: 1 }), "labels.a"],
  ["schema_version 2", (m) => (m.schema_version = "2.0"), "schema_version"],
];

for (const [what, mutate, field] of INVALID) {
  Deno.test(`invalid manifest: ${what} -> ${field}`, () => {
    const m = structuredClone(caddy("sha256:" + HEX)) as Loose;
    mutate(m);
    const result = validateManifest(m);
    assert.equal(result.ok, false, `${what} should be rejected`);
    if (result.ok) return;
    assert.ok(
      result.problems.some((p) => p.field === field),
      `${what}: expected a problem naming ${field}, got ${JSON.stringify(result.problems)}`,
    );
  });
}

Deno.test("parseManifest throws invalid_input listing every problem", () => {
  const bad = caddy();
  (bad as Record<string, unknown>).extra = true;
  assert.throws(() => parseManifest(bad), (e: unknown) => {
    assert.ok(e instanceof VolantError);
    assert.equal(e.code, "invalid_input");
    assert.deepEqual(e.problems.map((p) => p.field).sort(), ["extra", "initramfs.checksum"]);
    assert.match(e.message, /initramfs\.checksum/);
    return true;
  });
});

Deno.test("a wrong type is reported as such, a missing key as required", () => {
  const m = structuredClone(caddy("sha256:" + HEX)) as Loose;
  m.resources.cpu_cores = "2";
  delete m.version;
  const result = validateManifest(m);
  assert.equal(result.ok, false);
  if (result.ok) return;
  const byField = Object.fromEntries(result.problems.map((p) => [p.field, p.message]));
  assert.match(byField["resources.cpu_cores"], /expected number/i);
  assert.equal(byField["version"], "is required");
});

Deno.test("a non-object input is rejected naming the root", () => {
  for (const input of [null, 42, "x", []]) {
    const result = validateManifest(input);
    assert.equal(result.ok, false);
  }
});
