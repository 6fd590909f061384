/** Manifests shared by the agent tests. */
import type { PluginManifest } from "../../src/manifest/plugin.ts";

export const sampleManifest = {
  name: "web",
  version: "1.0.0",
  resources: { cpu_cores: 1, memory_mb: 128 },
  initramfs: { url: "https://example.com/web.cpio.gz" },
  workload: { type: "http", base_url: "http://127.0.0.1:80", entrypoint: ["httpd", "-f"] },
} as unknown as PluginManifest;
