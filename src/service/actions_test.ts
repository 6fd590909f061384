/**
 * ActionService against a real HTTP server on 127.0.0.1 standing in for
 * kestrel's port, through the real GuestClient. The VM and plugin services
 * are stand-ins (a running VM needs QEMU; tests/e2e/actions_test.ts runs the
 * same calls on a real guest): records whose IP is 127.0.0.1.
 */
import assert from "node:assert/strict";
import { isVolantError, VolantError } from "../errors.ts";
import type { PluginRecord, VmRecord } from "../manifest/api.ts";
import type { PluginManifest } from "../manifest/plugin.ts";
import { GuestClient } from "../guest/client.ts";
import { ActionService } from "./actions.ts";
import type { ServiceContext } from "./context.ts";
import type { PluginServiceApi, VmServiceApi } from "./contracts.ts";

const MANIFEST: PluginManifest = {
  name: "caddy",
  version: "1.0.0",
  initramfs: { url: "https://example.org/x.cpio.gz" },
  resources: { cpu_cores: 1, memory_mb: 128 },
  workload: { type: "http", base_url: "http://127.0.0.1:80", entrypoint: ["/bin/app"] },
  openapi: "/openapi.json",
  actions: {
    status: {
      method: "POST",
      path: "/cgi-bin/status",
      timeout_ms: 3000,
      payload_schema: {
        type: "object",
        properties: { verbose: { type: "boolean" } },
        required: ["verbose"],
        additionalProperties: false,
      },
    },
    peek: { method: "GET", path: "/peek" },
    boom: { method: "POST", path: "/boom" },
  },
};

function vm(over: Partial<VmRecord>): VmRecord {
  const now = new Date().toISOString();
  return {
    id: 1,
    name: "web",
    state: "running",
    plugin: "caddy",
    runtime: "caddy",
    ip: "127.0.0.1",
    mac: "02:00:00:00:00:01",
    cpu_cores: 1,
    memory_mb: 128,
    resources: { cpu_cores: 1, memory_mb: 128 },
    tap: "vtap1",
    machine: "microvm",
    restart_policy: "never",
    health: "healthy",
    kernel_cmdline: "",
    restarts: 0,
    created_at: now,
    updated_at: now,
    ...over,
  };
}

function stubs(vms: VmRecord[]): { vms: VmServiceApi; plugins: PluginServiceApi } {
  const find = (name: string) => {
    const v = vms.find((x) => x.name === name);
    if (!v) throw new VolantError("not_found", `vm ${name} not found`);
    return v;
  };
  const no = () => {
    throw new Error("not used by this test");
  };
  const vmApi = {
    get: find,
    list: (q: { plugin?: string; state?: string }) => {
      const items = vms.filter((v) =>
        (!q.plugin || v.plugin === q.plugin) && (!q.state || v.state === q.state)
      ).sort((a, b) => a.name.localeCompare(b.name));
      return { items, total: items.length, limit: 1000, offset: 0 };
    },
    getConfig: (name: string) => {
      find(name);
      return { version: 1, updated_at: "", config: { manifest: MANIFEST } };
    },
    create: no,
    start: no,
    stop: no,
    restart: no,
    delete: no,
    patchConfig: no,
    configHistory: no,
    console: no,
  } as unknown as VmServiceApi;
  const plugins = {
    get: (name: string) => {
      if (name !== "caddy") throw new VolantError("not_found", `plugin ${name} not found`);
      return { name, enabled: true, manifest: MANIFEST } as PluginRecord;
    },
  } as unknown as PluginServiceApi;
  return { vms: vmApi, plugins };
}

/** The stand-in kestrel: records requests and answers per path. */
function standIn() {
  const seen: { method: string; path: string; body: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    seen.push({ method: req.method, path: url.pathname + url.search, body: await req.text() });
    if (url.pathname === "/v1/cgi-bin/status") {
      return Response.json({ ok: true, pid: 42 });
    }
    if (url.pathname === "/v1/peek") return new Response("peeked\n");
    if (url.pathname === "/v1/openapi.json") {
      return new Response('{"openapi":"3.0.3"}', { headers: { "content-type": "text/plain" } });
    }
    return new Response("kaput", { status: 500 });
  });
  return { seen, server, port: server.addr.port };
}

function service(vms: VmRecord[], port: number): ActionService {
  const { vms: v, plugins } = stubs(vms);
  const ctx = { guest: new GuestClient({ port }) } as unknown as ServiceContext;
  return new ActionService(ctx, v, plugins);
}

async function rejects(p: Promise<unknown>, code: string, field?: string): Promise<VolantError> {
  try {
    await p;
  } catch (error) {
    assert.ok(isVolantError(error), String(error));
    assert.equal(error.code, code, error.message);
    if (field) assert.deepEqual(error.problems.map((x) => x.field), [field], error.message);
    return error;
  }
  assert.fail(`expected a ${code} error`);
}

Deno.test("actions: payload checked, sent to /v1<path> with the action's method; body parsed", async () => {
  const k = standIn();
  try {
    const s = service([vm({})], k.port);
    const r = await s.invokeOnVm("web", "status", { verbose: true }, { plugin: "caddy" });
    assert.deepEqual(
      { vm: r.vm, plugin: r.plugin, status: r.status, body: r.body },
      { vm: "web", plugin: "caddy", status: 200, body: { ok: true, pid: 42 } },
    );
    assert.deepEqual(k.seen, [
      { method: "POST", path: "/v1/cgi-bin/status", body: '{"verbose":true}' },
    ]);

    await rejects(
      s.invokeOnVm("web", "status", { verbose: "yes" }),
      "invalid_input",
      "payload.verbose",
    );
    await rejects(s.invokeOnVm("web", "status", {}), "invalid_input", "payload.verbose");
    await rejects(
      s.invokeOnVm("web", "status", { verbose: true, x: 1 }),
      "invalid_input",
      "payload.x",
    );
    assert.equal(k.seen.length, 1, "bad payloads never reach the guest");

    await rejects(s.invokeOnVm("web", "nope", {}), "not_found", "action");
    await rejects(
      s.invokeOnVm("web", "status", { verbose: true }, { plugin: "other" }),
      "conflict",
      "plugin",
    );

    const peek = await s.invokeOnVm("web", "peek", { q: "a b", n: 2 });
    assert.equal(peek.body, "peeked\n");
    assert.equal(k.seen.at(-1)?.path, "/v1/peek?q=a+b&n=2");
    assert.equal(k.seen.at(-1)?.method, "GET");

    const e = await rejects(s.invokeOnVm("web", "boom", {}), "upstream");
    assert.equal(e.details.upstream_status, 500);
    assert.equal(e.details.upstream_body, "kaput");
  } finally {
    await k.server.shutdown();
  }
});

Deno.test("actions: a stopped VM is a conflict; the plugin route picks a healthy running VM", async () => {
  const k = standIn();
  try {
    const s = service([
      vm({ name: "a", state: "stopped" }),
      vm({ name: "b", health: "unhealthy" }),
      vm({ name: "c" }),
    ], k.port);
    await rejects(s.invokeOnVm("a", "status", { verbose: true }), "conflict", "vm");
    const r = await s.invokeOnPlugin("caddy", "status", { verbose: false });
    assert.equal(r.vm, "c");
    await rejects(s.invokeOnPlugin("caddy", "nope", {}), "not_found", "action");
    await rejects(s.invokeOnPlugin("ghost", "status", {}), "not_found");
    const none = service([vm({ name: "a", state: "stopped" })], k.port);
    await rejects(none.invokeOnPlugin("caddy", "status", { verbose: true }), "conflict", "plugin");
  } finally {
    await k.server.shutdown();
  }
});

Deno.test("actions: the OpenAPI document comes from the workload through kestrel", async () => {
  const k = standIn();
  try {
    const s = service([vm({}), vm({ name: "off", state: "stopped" })], k.port);
    const doc = await s.openapi("web");
    assert.equal(doc.contentType, "application/json"); // served as text/plain, looks like JSON
    assert.equal(new TextDecoder().decode(doc.body), '{"openapi":"3.0.3"}');
    assert.equal(k.seen.at(-1)?.path, "/v1/openapi.json");
    await rejects(s.openapi("off"), "conflict", "vm");
  } finally {
    await k.server.shutdown();
  }
});
