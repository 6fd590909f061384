import assert from "node:assert/strict";
import { apiFixture, installPlugin, jsonBody } from "../testing/fixtures.ts";

Deno.test("vms: create (201 + Location), show, duplicate 409, unknown plugin 404", async () => {
  const f = await apiFixture();
  try {
    await installPlugin(f, "caddy");
    const res = await f.unix(
      "/api/v1/vms",
      jsonBody("POST", { name: "web", plugin: "caddy", start: false }),
    );
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("location"), "/api/v1/vms/web");
    const vm = await res.json();
    assert.equal(vm.state, "created");
    assert.match(vm.ip, /^192\.168\.127\.\d+$/);
    assert.match(vm.mac, /^02(:[0-9a-f]{2}){5}$/);
    const show = await (await f.unix("/api/v1/vms/web")).json();
    assert.deepEqual(show, vm);
    const dup = await f.unix(
      "/api/v1/vms",
      jsonBody("POST", { name: "web", plugin: "caddy", start: false }),
    );
    assert.equal(dup.status, 409);
    assert.equal((await dup.json()).code, "conflict");
    const unknown = await f.unix(
      "/api/v1/vms",
      jsonBody("POST", { name: "x", plugin: "nope", start: false }),
    );
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
    const missing = await f.unix("/api/v1/vms/ghost");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await f.close();
  }
});

Deno.test("vms: bad bodies and names are 400 naming the field", async () => {
  const f = await apiFixture();
  try {
    const cases: [unknown, string][] = [
      [{ plugin: "caddy" }, "name"],
      [{ name: "Web_1", plugin: "caddy" }, "name"],
      [{ name: "../../etc", plugin: "caddy" }, "name"],
      [{ name: "web", plugin: "caddy", cpu_cores: 0 }, "cpu_cores"],
      [{ name: "web", plugin: "caddy", kernel_cmdline: 'a"b' }, "kernel_cmdline"],
      [{ name: "web", plugin: "caddy", machine: "pc" }, "machine"],
      [{ name: "web", plugin: "caddy", surprise: true }, "surprise"],
    ];
    for (const [body, field] of cases) {
      const res = await f.unix("/api/v1/vms", jsonBody("POST", body));
      assert.equal(res.status, 400, JSON.stringify(body));
      const problem = await res.json();
      assert.ok(
        problem.errors.some((e: { field: string }) => e.field === field),
        `${JSON.stringify(body)} -> ${JSON.stringify(problem.errors)}`,
      );
    }
    for (
      const path of ["/api/v1/vms/UPPER", "/api/v1/vms/a..b/start", "/api/v1/vms/..%2Fx/config"]
    ) {
      const res = await f.unix(path, { method: path.endsWith("start") ? "POST" : "GET" });
      assert.equal(res.status, 400, path);
      assert.equal((await res.json()).errors[0].field, "path.name");
    }
  } finally {
    await f.close();
  }
});

Deno.test("vms: list with filters, sort, pagination and X-Total-Count", async () => {
  const f = await apiFixture();
  try {
    await installPlugin(f, "caddy");
    await installPlugin(f, "redis");
    for (const [name, plugin] of [["a1", "caddy"], ["b2", "redis"], ["c3", "caddy"]]) {
      const r = await f.unix("/api/v1/vms", jsonBody("POST", { name, plugin, start: false }));
      assert.equal(r.status, 201);
      await r.body?.cancel();
    }
    const all = await f.unix("/api/v1/vms");
    assert.equal(all.headers.get("x-total-count"), "3");
    const body = await all.json();
    assert.deepEqual(body.items.map((v: { name: string }) => v.name), ["a1", "b2", "c3"]);
    const page = await f.unix("/api/v1/vms?limit=1&offset=1&sort=name&order=desc");
    assert.equal(page.headers.get("x-total-count"), "3");
    assert.deepEqual((await page.json()).items.map((v: { name: string }) => v.name), ["b2"]);
    const caddy = await f.unix("/api/v1/vms?plugin=caddy");
    assert.equal(caddy.headers.get("x-total-count"), "2");
    await caddy.body?.cancel();
    const byState = await f.unix("/api/v1/vms?state=running,stopped");
    assert.equal(byState.headers.get("x-total-count"), "0");
    await byState.body?.cancel();
    const q = await (await f.unix("/api/v1/vms?q=B2")).json();
    assert.deepEqual(q.items.map((v: { name: string }) => v.name), ["b2"]);
    for (
      const [query, field] of [
        ["limit=abc", "query.limit"],
        ["limit=0", "query.limit"],
        ["offset=-1", "query.offset"],
        ["sort=pid", "query.sort"],
        ["state=sleeping", "query.state"],
      ]
    ) {
      const res = await f.unix(`/api/v1/vms?${query}`);
      assert.equal(res.status, 400, query);
      const problem = await res.json();
      assert.equal(problem.errors[0].field, field, query);
    }
  } finally {
    await f.close();
  }
});

Deno.test("vms: start without host networking/hypervisor is 503 naming what is missing", async () => {
  const f = await apiFixture();
  try {
    await installPlugin(f, "caddy");
    const r = await f.unix(
      "/api/v1/vms",
      jsonBody("POST", { name: "web", plugin: "caddy", start: false }),
    );
    await r.body?.cancel();
    const start = await f.unix("/api/v1/vms/web/start", { method: "POST" });
    assert.equal(start.status, 503);
    const problem = await start.json();
    assert.equal(problem.code, "unavailable");
    assert.match(problem.detail, /hypervisor|network/);
    // Creating with start (the default) is refused the same way and leaves nothing behind.
    const boot = await f.unix("/api/v1/vms", jsonBody("POST", { name: "api", plugin: "caddy" }));
    assert.equal(boot.status, 503);
    await boot.body?.cancel();
    const restart = await f.unix("/api/v1/vms/web/restart", { method: "POST" });
    assert.ok([409, 503].includes(restart.status), String(restart.status));
    await restart.body?.cancel();
    const stop = await f.unix("/api/v1/vms/web/stop?grace_ms=abc", { method: "POST" });
    assert.equal(stop.status, 400);
    assert.equal((await stop.json()).errors[0].field, "query.grace_ms");
  } finally {
    await f.close();
  }
});

Deno.test("vms: config get/patch/history and delete", async () => {
  const f = await apiFixture();
  try {
    await installPlugin(f, "caddy");
    const r = await f.unix(
      "/api/v1/vms",
      jsonBody("POST", { name: "web", plugin: "caddy", start: false }),
    );
    await r.body?.cancel();
    const cfg = await (await f.unix("/api/v1/vms/web/config")).json();
    assert.equal(cfg.version, 1);
    assert.equal(cfg.config.plugin, "caddy");
    const patched = await f.unix(
      "/api/v1/vms/web/config",
      jsonBody("PATCH", { resources: { memory_mb: 256 } }),
    );
    assert.equal(patched.status, 200);
    const p = await patched.json();
    assert.equal(p.version, 2);
    assert.equal(p.config.resources.memory_mb, 256);
    assert.equal(p.config.resources.cpu_cores, 1);
    const bad = await f.unix("/api/v1/vms/web/config", jsonBody("PATCH", { plugin: "other" }));
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).errors[0].field, "plugin");
    const bad2 = await f.unix(
      "/api/v1/vms/web/config",
      jsonBody("PATCH", { resources: { cpu_cores: -1 } }),
    );
    assert.equal(bad2.status, 400);
    assert.equal((await bad2.json()).errors[0].field, "resources.cpu_cores");
    const hist = await (await f.unix("/api/v1/vms/web/config/history")).json();
    assert.deepEqual(hist.items.map((h: { version: number }) => h.version), [2, 1]);
    const one = await (await f.unix("/api/v1/vms/web/config/history?limit=1")).json();
    assert.equal(one.items.length, 1);
    const badLimit = await f.unix("/api/v1/vms/web/config/history?limit=0");
    assert.equal(badLimit.status, 400);
    await badLimit.body?.cancel();
    const del = await f.unix("/api/v1/vms/web", { method: "DELETE" });
    assert.equal(del.status, 204);
    const gone = await f.unix("/api/v1/vms/web/config");
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
    // The plugin is free again: deleting it works without force.
    const rm = await f.unix("/api/v1/plugins/caddy", { method: "DELETE" });
    assert.equal(rm.status, 204);
  } finally {
    await f.close();
  }
});

Deno.test("plugins: remove refuses while a VM uses the plugin unless force=true", async () => {
  const f = await apiFixture();
  try {
    await installPlugin(f, "caddy");
    const r = await f.unix(
      "/api/v1/vms",
      jsonBody("POST", { name: "web", plugin: "caddy", start: false }),
    );
    await r.body?.cancel();
    const refused = await f.unix("/api/v1/plugins/caddy", { method: "DELETE" });
    assert.equal(refused.status, 409);
    assert.equal((await refused.json()).code, "conflict");
    const forced = await f.unix("/api/v1/plugins/caddy?force=true", { method: "DELETE" });
    assert.equal(forced.status, 204);
  } finally {
    await f.close();
  }
});
