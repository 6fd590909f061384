/**
 * The lite manifest check against the full schema: whatever it accepts, it
 * accepts exactly as parseManifest does (same normalised result); whatever
 * the schema refuses, it refuses too (null: the full validator words the
 * error).
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parseManifest } from "../src/manifest/validate.ts";
import { liteManifest } from "./manifest_lite.ts";
import { sampleManifest } from "./testdata/manifests.ts";

const full = {
  ...sampleManifest,
  rootfs: { url: "https://example.com/r.img", format: "raw" },
  health_check: { endpoint: "/healthz", timeout_ms: 5000 },
  workload: {
    ...sampleManifest.workload,
    env: { A: "1", B_2: "two words" },
    workdir: "/srv",
    user: "app:app",
    restart: "always",
  },
  labels: { team: "x" },
  actions: { hello: { method: "GET", path: "/hello" } },
};

Deno.test("lite manifest: accepts what the schema accepts, with the same normalised result", () => {
  for (const m of [sampleManifest, full]) {
    assertEquals(liteManifest(structuredClone(m)), parseManifest(structuredClone(m)));
  }
});

Deno.test("lite manifest: refuses what the schema refuses (the full validator then words it)", () => {
  const w = sampleManifest.workload;
  const bad: unknown[] = [
    null,
    [],
    { ...sampleManifest, resources: { cpu_cores: 0, memory_mb: 128 } },
    { ...sampleManifest, surprise: 1 },
    { ...sampleManifest, name: "Not A Name" },
    { ...sampleManifest, version: "" },
    { ...sampleManifest, initramfs: undefined, rootfs: undefined },
    { ...sampleManifest, workload: { ...w, type: "tcp" } },
    { ...sampleManifest, workload: { ...w, base_url: "ftp://x" } },
    { ...sampleManifest, workload: { ...w, entrypoint: [] } },
    { ...sampleManifest, workload: { ...w, entrypoint: [" sh"] } },
    { ...sampleManifest, workload: { ...w, env: { "1BAD": "x" } } },
    { ...sampleManifest, workload: { ...w, workdir: "relative" } },
    { ...sampleManifest, workload: { ...w, user: "a b" } },
    { ...sampleManifest, workload: { ...w, restart: "sometimes" } },
    { ...sampleManifest, workload: { ...w, extra: true } },
    { ...sampleManifest, health_check: { endpoint: "no-slash" } },
    { ...sampleManifest, health_check: { endpoint: "/", timeout_ms: 1.5 } },
  ];
  for (const m of bad) {
    assertEquals(liteManifest(structuredClone(m)), null, JSON.stringify(m));
    let refused = false;
    try {
      parseManifest(structuredClone(m));
    } catch {
      refused = true;
    }
    // " sh" and the like are accepted by the schema after trimming: the lite check only defers.
    if (!refused) assertEquals(JSON.stringify(m).includes('" sh"'), true, JSON.stringify(m));
  }
});
