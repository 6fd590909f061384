/** The guest client against a real HTTP server on 127.0.0.1 standing in for kestrel's port. */
import assert from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import { GuestClient } from "./client.ts";

Deno.test("guest client: healthz ok / failing / unreachable; status JSON", async () => {
  let healthy = false;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/healthz") {
      return healthy ? new Response("ok") : new Response("workload down", { status: 503 });
    }
    if (path === "/v1/status") return Response.json({ workload: "running" });
    if (path === "/slow") return new Promise(() => {});
    return new Response("no", { status: 404 });
  });
  try {
    const client = new GuestClient({ port: server.addr.port, timeoutMs: 500 });
    assert.deepEqual(await client.health("127.0.0.1"), {
      ok: false,
      status: 503,
      detail: "workload down",
    });
    healthy = true;
    assert.deepEqual(await client.health("127.0.0.1"), { ok: true, status: 200 });
    assert.deepEqual(await client.status("127.0.0.1"), { workload: "running" });
    // Nothing listens on port 9 of loopback.
    const dead = new GuestClient({ port: 9, timeoutMs: 500 });
    const h = await dead.health("127.0.0.1");
    assert.equal(h.ok, false);
    assert.ok(h.detail && h.detail.length > 0);
    await assert.rejects(dead.status("127.0.0.1"), (e) => isVolantError(e, "unavailable"));
  } finally {
    await server.shutdown();
  }
});
