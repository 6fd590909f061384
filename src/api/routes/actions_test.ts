/** The action and openapi routes' own checks, in process over real services (no VM runs here). */
import assert from "node:assert/strict";
import { apiFixture, installPlugin, jsonBody } from "../testing/fixtures.ts";

Deno.test("action routes: missing VM 404, bad names and bodies 400 naming the field", async () => {
  const f = await apiFixture();
  try {
    const fields = async (res: Response) =>
      (await res.json()).problems.map((p: { field: string }) => p.field);
    let res = await f.unix("/api/v1/vms/nope/actions/status", { method: "POST" });
    assert.equal(res.status, 404, "an absent body is {}");
    await res.body?.cancel();
    res = await f.unix("/api/v1/vms/nope/actions/status", jsonBody("POST", [1]));
    assert.equal(res.status, 400);
    assert.deepEqual(await fields(res), ["(root)"]);
    res = await f.unix("/api/v1/vms/nope/actions/bad%20name", { method: "POST" });
    assert.equal(res.status, 400);
    assert.deepEqual(await fields(res), ["path.action"]);
    res = await f.unix("/api/v1/vms/nope/actions/status?plugin=Bad", { method: "POST" });
    assert.deepEqual(await fields(res), ["query.plugin"]);

    await installPlugin(f, "caddy");
    res = await f.unix("/api/v1/plugins/caddy/actions/status", jsonBody("POST", {}));
    assert.equal(res.status, 404);
    const p = await res.json();
    assert.deepEqual(p.problems.map((x: { field: string }) => x.field), ["action"]);
    assert.match(p.detail, /declares no actions/);

    res = await f.unix(
      "/api/v1/vms",
      jsonBody("POST", { name: "web", plugin: "caddy", start: false }),
    );
    assert.equal(res.status, 201);
    await res.body?.cancel();
    res = await f.unix("/api/v1/vms/web/openapi");
    assert.equal(res.status, 404);
    assert.deepEqual(await fields(res), ["openapi"]);
    res = await f.tcp("/api/v1/vms/web/actions/status", { method: "POST" });
    assert.equal(res.status, 401, "same auth as every route");
    await res.body?.cancel();
  } finally {
    await f.close();
  }
});
