import assert from "node:assert/strict";
import { OPENAPI_PATH } from "./openapi_gen.ts";
import { operationId, serializeDocument, toOpenApiPath } from "./openapi.ts";
import { apiFixture } from "./testing/fixtures.ts";

Deno.test("the served OpenAPI document equals docs/openapi.json (run `deno task openapi`)", async () => {
  const f = await apiFixture();
  try {
    const res = await f.unix("/api/v1/openapi.json");
    assert.equal(res.status, 200);
    const served = await res.json();
    assert.equal(served.openapi, "3.1.0");
    const checkedIn = await Deno.readTextFile(OPENAPI_PATH);
    assert.equal(
      serializeDocument(served),
      checkedIn,
      "docs/openapi.json differs from the served document: run `deno task openapi`",
    );
  } finally {
    await f.close();
  }
});

Deno.test("every registered route is in the OpenAPI document", async () => {
  const f = await apiFixture();
  try {
    const doc = await (await f.unix("/api/v1/openapi.json")).json();
    const paths = doc.paths as Record<string, Record<string, unknown>>;
    const missing: string[] = [];
    for (const r of f.app.routes) {
      if (r.path === "/*" || r.path === "*") continue; // global middleware
      const p = toOpenApiPath(r.path);
      const ops = paths[p];
      if (ops === undefined) {
        missing.push(`${r.method} ${r.path}`);
        continue;
      }
      // ALL routes (agent proxy, deployments) must document at least GET.
      const method = r.method === "ALL" ? "get" : r.method.toLowerCase();
      if (!(method in ops)) missing.push(`${r.method} ${r.path}`);
    }
    assert.deepEqual(missing, [], `undocumented routes: ${missing.join(", ")}`);
    // Errors are documented as problem+json.
    const install = paths["/api/v1/plugins"].post as {
      responses: Record<string, { content?: Record<string, unknown> }>;
    };
    assert.ok(install.responses["400"].content?.["application/problem+json"]);
  } finally {
    await f.close();
  }
});

Deno.test("operation ids are derived from method and path, and unique", async () => {
  assert.equal(
    operationId("get", "/api/v1/vms/{name}/config/history"),
    "getVmsByNameConfigHistory",
  );
  assert.equal(operationId("get", "/healthz"), "getHealthz");
  assert.equal(operationId("get", "/api/v1/openapi.json"), "getOpenapiJson");
  const f = await apiFixture();
  try {
    const doc = await (await f.unix("/api/v1/openapi.json")).json();
    const ids: string[] = [];
    for (
      const ops of Object.values(
        doc.paths as Record<string, Record<string, { operationId: string }>>,
      )
    ) {
      for (const op of Object.values(ops)) ids.push(op.operationId);
    }
    assert.ok(ids.every((id) => /^[a-z][A-Za-z0-9]+$/.test(id)), ids.join(","));
    assert.equal(new Set(ids).size, ids.length);
  } finally {
    await f.close();
  }
});
