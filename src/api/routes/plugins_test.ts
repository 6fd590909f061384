import assert from "node:assert/strict";
import { apiFixture, installPlugin, jsonBody, writePlugin } from "../testing/fixtures.ts";

Deno.test("plugins: install by path (201), again (200 unchanged), list, show, manifest", async () => {
  const f = await apiFixture();
  try {
    const path = await writePlugin(f.dir, "caddy");
    const res = await f.unix("/api/v1/plugins", jsonBody("POST", { path }));
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("location"), "/api/v1/plugins/caddy");
    const first = await res.json();
    assert.equal(first.outcome, "installed");
    assert.equal(first.plugin.enabled, true);
    const again = await f.unix("/api/v1/plugins", jsonBody("POST", { path }));
    assert.equal(again.status, 200);
    assert.equal((await again.json()).outcome, "unchanged");
    const list = await (await f.unix("/api/v1/plugins")).json();
    assert.deepEqual(list.items.map((p: { name: string }) => p.name), ["caddy"]);
    const show = await f.unix("/api/v1/plugins/caddy");
    assert.equal((await show.json()).version, "1.0.0");
    const manifest = await f.unix("/api/v1/plugins/caddy/manifest");
    assert.equal(manifest.status, 200);
    assert.equal((await manifest.json()).name, "caddy");
  } finally {
    await f.close();
  }
});

Deno.test("plugins: a bad install body is 400 naming the field", async () => {
  const f = await apiFixture();
  try {
    const cases: [unknown, string][] = [
      [{}, "manifest"],
      [{ url: "ftp://example.invalid/m.json" }, "url"],
      [{ path: "relative/m.json" }, "path"],
      [{ path: "/x", allow_unverified: "yes" }, "allow_unverified"],
      [{ path: "/x", extra: 1 }, "extra"],
      [{ path: "/x", url: "https://example.invalid/m.json" }, "path"],
    ];
    for (const [body, field] of cases) {
      const res = await f.unix("/api/v1/plugins", jsonBody("POST", body));
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      const problem = await res.json();
      assert.ok(
        problem.errors.some((e: { field: string }) => e.field === field),
        `${JSON.stringify(body)} -> ${JSON.stringify(problem.errors)}`,
      );
    }
  } finally {
    await f.close();
  }
});

Deno.test("plugins: unknown is 404; traversal names are 400 naming path.name", async () => {
  const f = await apiFixture();
  try {
    const res = await f.unix("/api/v1/plugins/nope");
    assert.equal(res.status, 404);
    assert.equal((await res.json()).code, "not_found");
    // `..` and `%2e%2e` are normalised away by URL parsing before routing (404 above).
    const dotdot = await f.unix("/api/v1/plugins/%2e%2e");
    assert.equal(dotdot.status, 404);
    await dotdot.body?.cancel();
    for (const name of ["..%2F..%2Fetc", "a%2Fb", "UPPER", "a_b", "-x", "a%00b", "x".repeat(64)]) {
      const bad = await f.unix(`/api/v1/plugins/${name}`);
      assert.equal(bad.status, 400, name);
      const problem = await bad.json();
      assert.equal(problem.errors[0].field, "path.name", name);
    }
    const del = await f.unix("/api/v1/plugins/..%2Fstate", { method: "DELETE" });
    assert.equal(del.status, 400);
    await del.body?.cancel();
  } finally {
    await f.close();
  }
});

Deno.test("plugins: enable/disable (three spellings); manifest is 409 while disabled", async () => {
  const f = await apiFixture();
  try {
    await installPlugin(f, "caddy");
    const off = await f.unix("/api/v1/plugins/caddy/disable", { method: "POST" });
    assert.equal((await off.json()).enabled, false);
    const m = await f.unix("/api/v1/plugins/caddy/manifest");
    assert.equal(m.status, 409);
    assert.equal((await m.json()).code, "conflict");
    const on = await f.unix("/api/v1/plugins/caddy/enabled", jsonBody("POST", { enabled: true }));
    assert.equal((await on.json()).enabled, true);
    const off2 = await f.unix(
      "/api/v1/plugins/caddy/enabled",
      jsonBody("POST", { enabled: false }),
    );
    assert.equal((await off2.json()).enabled, false);
    const on2 = await f.unix("/api/v1/plugins/caddy/enable", { method: "POST" });
    assert.equal((await on2.json()).enabled, true);
    const bad = await f.unix("/api/v1/plugins/caddy/enabled", jsonBody("POST", { enabled: "no" }));
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).errors[0].field, "enabled");
    const missing = await f.unix("/api/v1/plugins/caddy/enabled", jsonBody("POST", {}));
    assert.equal(missing.status, 400);
    const mp = await missing.json();
    assert.deepEqual(mp.errors, [{ field: "enabled", message: "is required" }]);
    const unknown = await f.unix("/api/v1/plugins/nope/enable", { method: "POST" });
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
  } finally {
    await f.close();
  }
});

Deno.test("plugins: delete is 204, then 404; bad force value is 400", async () => {
  const f = await apiFixture();
  try {
    await installPlugin(f, "caddy");
    const bad = await f.unix("/api/v1/plugins/caddy?force=maybe", { method: "DELETE" });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).errors[0].field, "query.force");
    const del = await f.unix("/api/v1/plugins/caddy", { method: "DELETE" });
    assert.equal(del.status, 204);
    const again = await f.unix("/api/v1/plugins/caddy", { method: "DELETE" });
    assert.equal(again.status, 404);
    await again.body?.cancel();
  } finally {
    await f.close();
  }
});

Deno.test("plugins: a checksum mismatch installs nothing and says expected vs actual", async () => {
  const f = await apiFixture();
  try {
    const path = await writePlugin(f.dir, "broken");
    await Deno.writeFile(`${f.dir}/broken-1.0.0/boot.cpio.gz`, new Uint8Array([1, 2, 3]));
    const res = await f.unix("/api/v1/plugins", jsonBody("POST", { path }));
    assert.equal(res.status, 422);
    const problem = await res.json();
    assert.equal(problem.code, "checksum_mismatch");
    assert.match(problem.detail, /expected/);
    const list = await (await f.unix("/api/v1/plugins")).json();
    assert.deepEqual(list.items, []);
  } finally {
    await f.close();
  }
});

Deno.test("plugins: install answers with a warning for each compatibility-only field", async () => {
  const f = await apiFixture();
  try {
    const path = await writePlugin(f.dir, "compat");
    const manifest = JSON.parse(await Deno.readTextFile(path));
    manifest.network = { mode: "bridged", subnet: "10.9.0.0/24", gateway: "10.9.0.1" };
    await Deno.writeTextFile(path, JSON.stringify(manifest));
    const res = await f.unix("/api/v1/plugins", jsonBody("POST", { path }));
    assert.equal(res.status, 201);
    const body = await res.json();
    assert.deepEqual(body.warnings.map((w: { field: string }) => w.field), [
      "network.subnet",
      "network.gateway",
    ]);
    assert.match(body.warnings[0].message, /ignored/);
  } finally {
    await f.close();
  }
});
