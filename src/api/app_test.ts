import assert from "node:assert/strict";
import { VolantError } from "../errors.ts";
import { createApp } from "./app.ts";
import type { ApiDeps } from "./deps.ts";
import { apiFixture } from "./testing/fixtures.ts";

Deno.test("unknown route: 404 problem+json with the path as instance", async () => {
  const f = await apiFixture();
  try {
    const res = await f.unix("/api/v1/nope");
    assert.equal(res.status, 404);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const body = await res.json();
    assert.equal(body.instance, "/api/v1/nope");
    assert.equal(body.type, "urn:volant:problem:not_found");
    assert.equal(body.title, "Not found");
    assert.deepEqual(body.errors, []);
  } finally {
    await f.close();
  }
});

Deno.test("wrong method: 405 with Allow", async () => {
  const f = await apiFixture();
  try {
    const res = await f.unix("/api/v1/plugins", { method: "PUT" });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, HEAD, POST");
    const body = await res.json();
    assert.equal(body.status, 405);
    assert.equal(body.title, "Method not allowed");
    const res2 = await f.unix("/api/v1/vms/web/start", { method: "GET" });
    assert.equal(res2.status, 405);
    assert.equal(res2.headers.get("allow"), "POST");
    await res2.body?.cancel();
  } finally {
    await f.close();
  }
});

Deno.test("request id: a safe incoming id is echoed, an unsafe one replaced", async () => {
  const f = await apiFixture();
  try {
    const a = await f.unix("/healthz", { headers: { "x-request-id": "abc-123" } });
    assert.equal(a.headers.get("x-request-id"), "abc-123");
    await a.body?.cancel();
    const b = await f.unix("/healthz", { headers: { "x-request-id": "bad id\u0001" } });
    assert.match(b.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    await b.body?.cancel();
  } finally {
    await f.close();
  }
});

Deno.test("an unexpected error is a 500 that hides internals and names the request id", async () => {
  const logged: string[] = [];
  const boom = () => {
    throw new Error("secret path /etc/shadow in message");
  };
  const services = {
    plugins: { list: boom },
    vms: {},
    events: {},
    system: { info: () => Promise.reject(new VolantError("unavailable", "store is closing")) },
  } as unknown as ApiDeps["services"];
  const app = createApp({
    services,
    auth: {},
    logger: {
      debug() {},
      info() {},
      warn() {},
      error: (msg, fields) => logged.push(msg + JSON.stringify(fields)),
    },
  });
  const res = await app.request("/api/v1/plugins", { headers: { "x-request-id": "r1" } }, {
    transport: "unix",
  });
  assert.equal(res.status, 500);
  const body = await res.json();
  assert.equal(body.detail, "internal error (request id r1)");
  assert.doesNotMatch(JSON.stringify(body), /shadow/);
  assert.match(logged.join("\n"), /secret path/);
  // A VolantError keeps its code and message.
  const res2 = await app.request("/api/v1/system/info", {}, { transport: "unix" });
  assert.equal(res2.status, 503);
  assert.equal((await res2.json()).detail, "store is closing");
});

Deno.test("GET /api/v1/system/info and /healthz", async () => {
  const f = await apiFixture();
  try {
    const res = await f.unix("/api/v1/system/info");
    assert.equal(res.status, 200);
    const info = await res.json();
    assert.equal(info.version, "test");
    assert.equal(info.network.gateway, "192.168.127.1");
    assert.equal(info.hypervisor.available, false);
    const h = await f.unix("/healthz");
    assert.deepEqual(await h.json(), { status: "ok" });
  } finally {
    await f.close();
  }
});

Deno.test("malformed JSON and a wrong content type are 400/415 problem+json", async () => {
  const f = await apiFixture();
  try {
    const res = await f.unix("/api/v1/plugins", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    await res.body?.cancel();
    const res2 = await f.unix("/api/v1/plugins", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "x",
    });
    assert.equal(res2.status, 415);
    assert.equal(res2.headers.get("content-type"), "application/problem+json");
    await res2.body?.cancel();
  } finally {
    await f.close();
  }
});

Deno.test("a body over the cap is 413 problem+json", async () => {
  const f = await apiFixture({ bodyLimits: { apiBytes: 1024 } });
  try {
    const res = await f.unix("/api/v1/plugins", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ manifest: { pad: "x".repeat(4096) } }),
    });
    assert.equal(res.status, 413);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    assert.match((await res.json()).detail, /larger than 1024 bytes/);
  } finally {
    await f.close();
  }
});
