/**
 * The agent channel over Cloud Hypervisor's vsock (hybrid vsock: the host
 * dials `<runtime>/vsock.sock`, sends `CONNECT 1024`), against the CONTRACT
 * FAKE of CH's vsock muxer (src/vmm/testing/fake_hybrid_vsock.ts). The fake
 * guest's port 1024 runs a guest mux session relaying each stream to a real
 * HTTP server, as kestrel does (agent/channel.ts `startVsockChannel`; its
 * AF_VSOCK listener itself needs a guest with a vsock device: CH under KVM).
 * No `agent.sock` exists, so the link must take the vsock path; the target's
 * IP is a dead address.
 */
import assert from "node:assert/strict";
import { AgentChannels, hybridVsockSocket } from "../../src/guest/channel.ts";
import { GuestClient } from "../../src/guest/client.ts";
import { AGENT_VSOCK_PORT } from "../../src/manifest/cmdline.ts";
import { MuxSession } from "../../src/shared/mux.ts";
import type { HelloPayload } from "../../src/shared/mux_codec.ts";
import { FakeHybridVsock } from "../../src/vmm/testing/fake_hybrid_vsock.ts";

Deno.test("agent channel over hybrid vsock: health and a 2 MB echo at once, key in the hello", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-chanv-" });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/healthz") return new Response("ok");
    if (path === "/v1/echo") return new Response(req.body);
    return new Response("no", { status: 404 });
  });
  const channel = `${dir}/agent.sock`; // never created: CH has no virtio-serial
  const vsock = new FakeHybridVsock(hybridVsockSocket(channel));
  const hellos: HelloPayload[] = [];
  vsock.listen(AGENT_VSOCK_PORT, async (conn) => {
    const writer = conn.writable.getWriter();
    const session: MuxSession = new MuxSession({
      role: "guest",
      write: (b) => writer.write(b),
      onOpen: (s) =>
        void (async () => {
          const api = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
          await Promise.allSettled([
            s.readable.pipeTo(api.writable, { preventClose: true }).then(() => api.closeWrite()),
            api.readable.pipeTo(s.writable),
          ]);
        })(),
      onHello: (h) => {
        hellos.push(h);
        void session.hello({ nonce: h.nonce });
      },
    });
    try {
      for await (const c of conn.readable) session.feed(c);
    } finally {
      session.close();
    }
  });
  const channels = new AgentChannels();
  try {
    const client = new GuestClient({ port: server.addr.port, timeoutMs: 5_000, channels });
    const target = { ip: "192.0.2.1", key: "kv", channel };
    const body = "y".repeat(2 * 1024 * 1024);
    const [health, echo] = await Promise.all([
      client.health(target),
      client.request(target, {
        method: "POST",
        path: "/v1/echo",
        body,
        timeoutMs: 20_000,
        maxBytes: body.length,
      }),
    ]);
    assert.deepEqual(health, { ok: true, status: 200 });
    assert.equal(new TextDecoder().decode(echo.body), body);
    assert.deepEqual(vsock.connects, [AGENT_VSOCK_PORT]);
    assert.equal(hellos[0].key, "kv");
  } finally {
    channels.close();
    vsock.close(true);
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
