import assert from "node:assert/strict";
import { decodeManifestValue, encodeManifest, parseManifest } from "./mod.ts";

Deno.test("manifest survives the cmdline codec", async () => {
  const manifest = parseManifest({
    name: "web",
    version: "1",
    initramfs: { url: "web.cpio.gz", checksum: "a".repeat(64) },
    resources: { cpu_cores: 1, memory_mb: 128 },
    workload: { type: "http", base_url: "http://127.0.0.1:80", entrypoint: ["/bin/httpd"] },
  });
  const encoded = await encodeManifest(manifest);
  assert.match(encoded, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(await decodeManifestValue(encoded), manifest);
});
