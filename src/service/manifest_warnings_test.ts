import assert from "node:assert/strict";
import { parseManifest } from "../manifest/mod.ts";
import { compatWarnings } from "./manifest_warnings.ts";

const base = {
  name: "web",
  version: "1.0.0",
  initramfs: { url: "https://example.com/web.cpio.gz" },
  resources: { cpu_cores: 1, memory_mb: 128 },
  workload: { type: "http", base_url: "http://127.0.0.1:80", entrypoint: ["httpd"] },
};

Deno.test("compatWarnings: a plain manifest has none", () => {
  assert.deepEqual(compatWarnings(parseManifest(base), "192.168.127.0/24"), []);
});

Deno.test("compatWarnings: names each compatibility-only field", () => {
  const m = parseManifest({
    ...base,
    network: { mode: "bridged", subnet: "10.0.0.0/24", gateway: "10.0.0.1" },
    devices: { allowlist: ["10de:*"] },
  });
  const fields = compatWarnings(m, "192.168.127.0/24").map((w) => w.field);
  assert.deepEqual(fields, [
    "network.subnet",
    "network.gateway",
    "devices.allowlist",
  ]);
  assert.match(compatWarnings(m, "192.168.127.0/24")[0].message, /192\.168\.127\.0\/24/);
});
