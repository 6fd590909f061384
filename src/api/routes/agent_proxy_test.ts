import assert from "node:assert/strict";
import { createApp } from "../app.ts";
import type { ApiDeps } from "../deps.ts";
import { stubVms, vmRecord } from "../testing/stub_vms.ts";
import { stripHopByHop } from "./agent_proxy.ts";
import { testGuestService } from "../testing/guest_service.ts";
import { writeAgentKey } from "../../service/agent_key.ts";

Deno.test("stripHopByHop removes hop-by-hop headers and those named in Connection", () => {
  const h = new Headers({
    connection: "keep-alive, x-private",
    "keep-alive": "timeout=5",
    "x-private": "1",
    te: "trailers",
    "transfer-encoding": "chunked",
    upgrade: "h2c",
    "x-kept": "yes",
  });
  const out = stripHopByHop(h);
  assert.deepEqual([...out.keys()], ["x-kept"]);
});

Deno.test("agent proxy: forwards method, path, query and body; strips auth and hop-by-hop", async () => {
  const seen: { method: string; url: string; headers: Headers; body: string }[] = [];
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers, body: await req.text() });
    return new Response("from agent", {
      status: 418,
      headers: { "x-agent": "kestrel", "keep-alive": "timeout=1" },
    });
  });
  const port = upstream.addr.port;
  const vms = stubVms([
    vmRecord({ name: "web" }),
    vmRecord({ name: "off", state: "stopped" }),
    vmRecord({ name: "noip", ip: "" }),
  ]);
  const runtimeDir = await Deno.makeTempDir({ prefix: "volant-proxy-" });
  await writeAgentKey(`${runtimeDir}/web`, "the-vms-agent-key-0123456789");
  const guest = testGuestService(vms, { agentPort: port, runtimeDir });
  const services = { vms, guest } as unknown as ApiDeps["services"];
  const app = createApp({ services, auth: { token: "tok" } });
  try {
    const res = await app.request("/api/v1/vms/web/agent/v1/items?x=1&y=2", {
      method: "POST",
      headers: {
        authorization: "Bearer tok",
        "x-custom": "kept",
        "proxy-authorization": "secret",
        connection: "x-hop",
        "x-hop": "dropped",
        "x-volant-agent-key": "a-client-guess",
      },
      body: "payload",
    }, { transport: "tcp" });
    assert.equal(res.status, 418);
    assert.equal(await res.text(), "from agent");
    assert.equal(res.headers.get("x-agent"), "kestrel");
    assert.equal(res.headers.get("keep-alive"), null);
    assert.equal(seen.length, 1);
    const got = seen[0];
    assert.equal(got.method, "POST");
    assert.equal(new URL(got.url).pathname, "/v1/items");
    assert.equal(new URL(got.url).search, "?x=1&y=2");
    assert.equal(got.body, "payload");
    assert.equal(got.headers.get("x-custom"), "kept");
    assert.equal(got.headers.get("authorization"), null, "the API token never reaches the guest");
    assert.equal(got.headers.get("proxy-authorization"), null);
    assert.equal(got.headers.get("x-hop"), null);
    assert.equal(got.headers.get("x-volant-agent-key"), "the-vms-agent-key-0123456789");

    const off = await app.request("/api/v1/vms/off/agent/healthz", {}, { transport: "unix" });
    assert.equal(off.status, 409);
    await off.body?.cancel();
    const noip = await app.request("/api/v1/vms/noip/agent/healthz", {}, { transport: "unix" });
    assert.equal(noip.status, 502);
    await noip.body?.cancel();
    const missing = await app.request("/api/v1/vms/nope/agent/x", {}, { transport: "unix" });
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const bad = await app.request("/api/v1/vms/BAD/agent/x", {}, { transport: "unix" });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).errors[0].field, "path.name");
    const upgrade = await app.request("/api/v1/vms/web/agent/ws", {
      headers: { upgrade: "websocket" },
    }, { transport: "unix" });
    assert.equal(upgrade.status, 400);
    await upgrade.body?.cancel();
  } finally {
    await upstream.shutdown();
  }
  // The agent is down: 502 naming the VM.
  const down = await app.request("/api/v1/vms/web/agent/healthz", {}, { transport: "unix" });
  assert.equal(down.status, 502);
  assert.match((await down.json()).detail, /agent of vm web unreachable/);
  await Deno.remove(runtimeDir, { recursive: true });
});

Deno.test("agent proxy: an encoded answer arrives encoded, its Content-Encoding still true", async () => {
  const text = "compressible ".repeat(500);
  const gz = new Uint8Array(
    await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip")))
      .arrayBuffer(),
  );
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      new Response(gz, { headers: { "content-encoding": "gzip", "content-type": "text/plain" } }),
  );
  const vms = stubVms([vmRecord({ name: "web" })]);
  const guest = testGuestService(vms, { agentPort: upstream.addr.port });
  const services = { vms, guest } as unknown as ApiDeps["services"];
  const app = createApp({ services, auth: { token: "tok" } });
  try {
    // What `curl --compressed` does: ask for gzip, decode by the answer's header.
    const res = await app.request("/api/v1/vms/web/agent/v1/logs", {
      headers: { authorization: "Bearer tok", "accept-encoding": "gzip" },
    }, { transport: "tcp" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-encoding"), "gzip");
    const decoded = await new Response(res.body!.pipeThrough(new DecompressionStream("gzip")))
      .text();
    assert.equal(decoded, text);
  } finally {
    await upstream.shutdown();
  }
});
