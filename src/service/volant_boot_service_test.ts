/**
 * A plugin built by Volant's fledge (own /init and /bin/kestrel) through the
 * services: real SQLite, a real initramfs file inspected at install time, a
 * real HTTP server standing where the workload's base_url points. The
 * hypervisor and TAPs are the in-memory doubles (the QEMU boot of the same
 * kind of image is tests/e2e/volant_compat_test.ts).
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import { encodeCpio } from "../builder/cpio.ts";
import { GuestClient } from "../guest/client.ts";
import { parseManifest } from "../manifest/mod.ts";
import { serviceFixture, waitFor } from "./testing/fixture.ts";

const enc = new TextEncoder();

function volantImage(): Uint8Array {
  return new Uint8Array(gzipSync(encodeCpio([
    { type: "dir", path: "/bin", mode: 0o755 },
    { type: "file", path: "/init", mode: 0o755, data: enc.encode("#!/bin/sh\n") },
    { type: "file", path: "/bin/kestrel", mode: 0o755, data: enc.encode("#!/bin/sh\n") },
  ])));
}

Deno.test("Volant-contract plugin: install says so; VM gets ip=, no agent disk; health from base_url", async () => {
  const paths: string[] = [];
  const workload = Deno.serve({ hostname: "127.0.0.7", port: 0, onListen() {} }, (req) => {
    paths.push(new URL(req.url).pathname);
    return new Response("hello");
  });
  const f = await serviceFixture({
    plugin: false,
    options: { subnet: "127.0.0.0/8", pool: { start: "127.0.0.7" } },
    deps: { guest: new GuestClient({ timeoutMs: 500 }) },
  });
  try {
    const image = volantImage();
    const sha = createHash("sha256").update(image).digest("hex");
    const path = `${f.dir}/plugin.cpio.gz`;
    await Deno.writeFile(path, image);
    const manifest = parseManifest({
      name: "caddy",
      version: "0.1.0",
      initramfs: { url: "https://example.test/plugin.cpio.gz", checksum: sha },
      resources: { cpu_cores: 1, memory_mb: 128 },
      workload: {
        type: "http",
        base_url: `http://127.0.0.1:${workload.addr.port}`,
        entrypoint: ["/usr/bin/caddy"],
      },
      health_check: { endpoint: "/ready", timeout_ms: 10000 },
    });
    f.store.plugins.put({
      name: "caddy",
      version: "0.1.0",
      runtime: "caddy",
      enabled: true,
      allow_unverified: false,
      source: "body",
      manifest,
      artifacts: [{
        kind: "initramfs",
        name: "initramfs",
        url: "https://example.test/plugin.cpio.gz",
        sha256: sha,
        verified: true,
        size: image.length,
        path,
      }],
      installed_at: "2026-01-01T00:00:00.000Z",
      updated_at: "2026-01-01T00:00:00.000Z",
    });
    const plugin = f.services.plugins.get("caddy");
    assert.equal(plugin.boot_contract?.contract, "volant");

    const vm = await f.services.vms.create({ name: "web", plugin: "caddy" });
    assert.equal(vm.ip, "127.0.0.7");
    const spec = f.hv.specs.at(-1)!;
    assert.deepEqual(spec.disks, [], "no agent disk");
    assert.equal(spec.initramfs, path);
    assert.match(spec.cmdline, / ip=127\.0\.0\.7::127\.0\.0\.1:255\.0\.0\.0:web:eth0:off /);
    assert.doesNotMatch(spec.cmdline, /volant\.agent_device/);
    assert.doesNotMatch(spec.cmdline, /volant\.run=/, "its own init: no workload-first hand-off");
    await waitFor(() => f.services.vms.get("web").health === "healthy", 5000, "healthy");
    assert.ok(paths.includes("/ready"), `probed ${paths.join(",")}`);
  } finally {
    await f.close();
    await workload.shutdown();
  }
});
