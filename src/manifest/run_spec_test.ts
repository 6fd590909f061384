/** `volant.run`: what volantd writes for the shim, and when it writes nothing. */
import { deepStrictEqual as assertEquals, match, ok as assert } from "node:assert/strict";
import type { PluginManifest } from "./plugin.ts";
import { decodeRunSpec, encodeRunSpec } from "./run_spec.ts";
import { assembleCmdline, checkExtraArgs } from "../service/cmdline.ts";

const base = {
  name: "web",
  version: "1",
  initramfs: { url: "https://example.com/w.cpio.gz" },
  resources: { cpu_cores: 1, memory_mb: 128 },
  workload: {
    type: "http",
    base_url: "http://127.0.0.1:80",
    entrypoint: ["httpd", "-f", "-p", "80", "a b"],
    env: { GREETING: "hello world", EMPTY: "" },
    workdir: "/srv",
    user: "app:app",
  },
} as PluginManifest;

Deno.test("run spec: round trip, in order, with the rootfs flag", () => {
  const v = encodeRunSpec(base, true)!;
  match(v, /^[A-Za-z0-9_-]+$/, "base64url without padding: one cmdline token");
  assertEquals(decodeRunSpec(v), {
    argv: ["httpd", "-f", "-p", "80", "a b"],
    env: { GREETING: "hello world", EMPTY: "" },
    workdir: "/srv",
    user: "app:app",
    switchRoot: true,
  });
  assertEquals(decodeRunSpec(encodeRunSpec(base, false)!).switchRoot, false);
});

Deno.test("run spec: nothing when the shim could not carry it", () => {
  const w = base.workload;
  assertEquals(encodeRunSpec({ ...base, workload: { ...w, env: { A: "x\0y" } } }, false), null);
  const many = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`V${i}`, "1"]));
  assertEquals(encodeRunSpec({ ...base, workload: { ...w, env: many } }, false), null);
  const long = { ...base, workload: { ...w, entrypoint: ["sh", "x".repeat(5000)] } };
  assertEquals(encodeRunSpec(long, false), null);
});

Deno.test("run spec on the cmdline: only when asked, only when it fits, never from the user", async () => {
  const input = {
    manifest: base,
    ip: "10.0.0.2",
    prefix: 24,
    gateway: "10.0.0.1",
    hostname: "web",
    boot: "initramfs" as const,
  };
  assert(!(await assembleCmdline(input)).includes("volant.run="));
  const line = await assembleCmdline({ ...input, workloadFirst: true });
  const run = /volant\.run=(\S+)/.exec(line);
  assert(run, line);
  assertEquals(decodeRunSpec(run[1]).argv[0], "httpd");
  assert(line.indexOf("volant.run=") < line.indexOf("volant.manifest="));
  // A manifest that fills the budget still boots, through kestrel.
  const noise = Array.from(crypto.getRandomValues(new Uint8Array(450)), (b) => b.toString(16))
    .join("").padEnd(900, "0");
  const big = { ...base, workload: { ...base.workload, env: { PAD: noise } } };
  const full = await assembleCmdline({ ...input, manifest: big, workloadFirst: true });
  assert(!full.includes("volant.run="), `${full.length} bytes`);
  let refused = false;
  try {
    checkExtraArgs("volant.run=abc");
  } catch {
    refused = true;
  }
  assert(refused, "volant.run is reserved");
});
