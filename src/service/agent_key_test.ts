import assert from "node:assert/strict";
import {
  AGENT_KEY_FILE,
  keyedGuest,
  newAgentKey,
  readAgentKey,
  writeAgentKey,
} from "./agent_key.ts";
import { assembleCmdline } from "./cmdline.ts";
import type { GuestAgent, GuestTarget } from "./ports.ts";
import { VolantError } from "../errors.ts";
import type { PluginManifest } from "../manifest/plugin.ts";

Deno.test("agent key: fresh per call, 43 base64url chars, kept 0600 in the runtime dir", async () => {
  const a = newAgentKey();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, newAgentKey());
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readAgentKey(`${dir}/vm`), undefined);
    await writeAgentKey(`${dir}/vm`, a);
    assert.equal(await readAgentKey(`${dir}/vm`), a);
    assert.equal((await Deno.stat(`${dir}/vm/${AGENT_KEY_FILE}`)).mode! & 0o777, 0o600);
    const b = newAgentKey();
    await writeAgentKey(`${dir}/vm`, b); // a restart rotates it
    assert.equal(await readAgentKey(`${dir}/vm`), b);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("agent key: on the command line, and not settable through extra args", async () => {
  const manifest = {
    name: "web",
    version: "1",
    runtime: "web",
    resources: { cpu_cores: 1, memory_mb: 64 },
    initramfs: { url: "https://example.com/i.cpio.gz" },
    workload: { type: "http", base_url: "http://127.0.0.1:80/", entrypoint: ["x"] },
  } as unknown as PluginManifest;
  const base = {
    manifest,
    ip: "192.168.127.10",
    prefix: 24,
    gateway: "192.168.127.1",
    hostname: "web",
    boot: "initramfs" as const,
  };
  const line = await assembleCmdline({ ...base, agentKey: "k".repeat(43) });
  assert.match(line, new RegExp(`volant.agent_key=${"k".repeat(43)}`));
  await assert.rejects(
    assembleCmdline({ ...base, extra: `volant.agent_key=${"x".repeat(43)}` }),
    (e) => e instanceof VolantError && e.code === "invalid_input",
  );
});

Deno.test("keyedGuest: calls by IP carry the looked-up key; explicit targets pass as given", async () => {
  const seen: (string | GuestTarget)[] = [];
  const inner: GuestAgent = {
    health: (t) => {
      seen.push(t);
      return Promise.resolve({ ok: true });
    },
    status: (t) => {
      seen.push(t);
      return Promise.resolve({});
    },
    request: (t) => {
      seen.push(t);
      return Promise.resolve({ status: 200, contentType: "", body: new Uint8Array() });
    },
  };
  const g = keyedGuest(inner, (ip) => Promise.resolve({ ip, key: `key-of-${ip}` }));
  await g.health("10.0.0.2");
  await g.status("10.0.0.3");
  await g.request!("10.0.0.4", { method: "GET", path: "/", timeoutMs: 1 });
  await g.health({ ip: "10.0.0.5", key: "given" });
  assert.deepEqual(seen, [
    { ip: "10.0.0.2", key: "key-of-10.0.0.2" },
    { ip: "10.0.0.3", key: "key-of-10.0.0.3" },
    { ip: "10.0.0.4", key: "key-of-10.0.0.4" },
    { ip: "10.0.0.5", key: "given" },
  ]);
  assert.equal(g.forward, undefined);
});
