/**
 * Volant's own manifests (tests/fixtures/volant, see SOURCES.md there): each
 * one validates, or is refused for the reason docs/manifest.md's compatibility
 * table gives.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { validateManifest } from "./validate.ts";
import { dropVolantEmpties } from "./volant_compat.ts";

const DIR = fileURLToPath(new URL("../../tests/fixtures/volant/", import.meta.url));

function load(rel: string): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(DIR + rel));
}

/** Every JSON fixture and what must happen to it: "valid" or the refused field. */
const EXPECTED: Record<string, "valid" | { field: string; message: RegExp }> = {
  "initramfs-plugin-example/manifest/caddy.json": "valid",
  "oci-plugin-example/manifest/nginx.json": "valid",
  "volant/exported/caddy.json": "valid",
  "volant/exported/nginx.json": "valid",
  "volant/exported/minimal.json": "valid",
  "volant/docs/overview-initramfs.json": "valid",
  // Volant's docs wrote the filesystem type where the image format goes; Volant refused it too.
  "volant/docs/overview-oci.json": {
    field: "rootfs.format",
    message: /^must be "raw" or "qcow2" .*\(got "ext4"\)$/,
  },
};

Deno.test("volant fixtures: the table covers every JSON fixture", () => {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(DIR + rel)) {
      if (e.isDirectory) walk(`${rel}${e.name}/`);
      else if (e.name.endsWith(".json")) found.push(rel + e.name);
    }
  };
  walk("");
  assert.deepEqual(found.sort(), Object.keys(EXPECTED).sort());
});

for (const [rel, want] of Object.entries(EXPECTED)) {
  Deno.test(`volant fixture ${rel}: ${want === "valid" ? "validates" : `refused at ${want.field}`}`, () => {
    const result = validateManifest(load(rel));
    if (want === "valid") {
      assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
      return;
    }
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.problems.length, 1, JSON.stringify(result.problems));
    assert.equal(result.problems[0].field, want.field);
    assert.match(result.problems[0].message, want.message);
  });
}

Deno.test("volant fixture nginx.json: the empty checksum is no checksum", () => {
  const r = validateManifest(load("oci-plugin-example/manifest/nginx.json"));
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.manifest.rootfs?.checksum, undefined);
  assert.equal(r.manifest.rootfs?.format, "raw");
  assert.equal(r.manifest.initramfs, undefined);
});

Deno.test("volant exported caddy.json: the empty rootfs is no rootfs", () => {
  const r = validateManifest(load("volant/exported/caddy.json"));
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.manifest.rootfs, undefined);
  assert.match(r.manifest.initramfs!.url, /^https:\/\/github\.com\//);
});

Deno.test("volant exported minimal.json: zeros and empty documents are absent", () => {
  const r = validateManifest(load("volant/exported/minimal.json"));
  assert.ok(r.ok);
  if (!r.ok) return;
  const m = r.manifest;
  assert.deepEqual(m.health_check, { endpoint: "" });
  assert.deepEqual(m.actions?.ping, { description: "", method: "GET", path: "/ping" });
  assert.deepEqual(m.disks, [{
    name: "data",
    source: "https://example.com/data.img",
    readonly: false,
  }]);
  assert.deepEqual(Object.keys(m.cloud_init!).sort(), ["datasource", "seed_mode", "user_data"]);
});

Deno.test("dropVolantEmpties: does not modify its input, leaves non-objects alone", () => {
  const raw = load("oci-plugin-example/manifest/nginx.json");
  const before = structuredClone(raw);
  dropVolantEmpties(raw);
  assert.deepEqual(raw, before);
  for (const v of [null, 1, "x", [1]]) assert.equal(dropVolantEmpties(v), v);
});

Deno.test("refusals name the field, show the value and say what to write", () => {
  const m = load("initramfs-plugin-example/manifest/caddy.json");
  (m.resources as Record<string, unknown>).cpu_cores = 0;
  (m.initramfs as Record<string, unknown>).checksum = "deadbeef";
  m.name = "Caddy_1";
  const r = validateManifest(m);
  assert.equal(r.ok, false);
  if (r.ok) return;
  const by = Object.fromEntries(r.problems.map((p) => [p.field, p.message]));
  assert.match(by["resources.cpu_cores"], /^must be at least 1 \(got 0\)$/);
  assert.match(by["initramfs.checksum"], /^must be sha256:<64 hex digits>.*\(got "deadbeef"\)$/);
  assert.match(by["name"], /^must be a DNS label.*\(got "Caddy_1"\)$/);
});
