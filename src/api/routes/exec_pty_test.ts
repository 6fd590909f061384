/**
 * GET /api/v1/vms/{name}/exec/pty over real sockets: a client WebSocket to the
 * API, relayed to a local "agent" WebSocket server reached through the real
 * GuestClient (dialAgent + the shared RFC 6455 client).
 */
import assert from "node:assert/strict";
import { createApp } from "../app.ts";
import type { ApiDeps } from "../deps.ts";
import { stubVms, vmRecord } from "../testing/stub_vms.ts";
import { testGuestService } from "../testing/guest_service.ts";
import { connectWebSocket, WsClient } from "../../shared/websocket.ts";

Deno.test("exec/pty: refusals before the upgrade; messages relayed both ways to the agent", async () => {
  const seen: string[] = [];
  // The "agent": answers bytes upper-cased, a resize with its size, exits on "q".
  const agent = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    seen.push(`${url.pathname}?${url.searchParams}`);
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (ev) => {
      if (typeof ev.data === "string") {
        socket.send(`got ${ev.data}`);
        return;
      }
      const text = new TextDecoder().decode(ev.data as ArrayBuffer);
      if (text === "q") {
        socket.send(JSON.stringify({ type: "exit", exit_code: 3, signal: null }));
        socket.close(1000, "exited");
      } else socket.send(new TextEncoder().encode(text.toUpperCase()));
    };
    return response;
  });
  const vms = stubVms([vmRecord({ name: "web" }), vmRecord({ name: "off", state: "stopped" })]);
  const guest = testGuestService(vms, { agentPort: agent.addr.port });
  const services = { vms, guest } as unknown as ApiDeps["services"];
  const app = createApp({ services, auth: { token: "tok" } });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => app.fetch(req, { transport: "tcp" }),
  );
  const port = server.addr.port;
  const open = async (path: string) =>
    await connectWebSocket(await Deno.connect({ hostname: "127.0.0.1", port }), {
      host: `127.0.0.1:${port}`,
      path,
      headers: { authorization: "Bearer tok" },
    });
  try {
    const bad = await open("/api/v1/vms/web/exec/pty?argv=sh&rows=0");
    assert.ok(!(bad instanceof WsClient));
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).problems[0].field, "query.rows");
    const off = await open("/api/v1/vms/off/exec/pty?argv=sh");
    assert.ok(!(off instanceof WsClient));
    assert.equal(off.status, 409);

    const ws = await open("/api/v1/vms/web/exec/pty?argv=sh&argv=-l&rows=30&cols=100");
    assert.ok(ws instanceof WsClient);
    const it = ws.messages();
    await ws.send(new TextEncoder().encode("hi"));
    assert.equal(new TextDecoder().decode((await it.next()).value as Uint8Array), "HI");
    await ws.send(JSON.stringify({ type: "resize", rows: 5, cols: 6 }));
    assert.equal((await it.next()).value, 'got {"type":"resize","rows":5,"cols":6}');
    await ws.send(new TextEncoder().encode("q"));
    assert.deepEqual(JSON.parse((await it.next()).value as string), {
      type: "exit",
      exit_code: 3,
      signal: null,
    });
    assert.ok((await it.next()).done);
    assert.equal((await ws.closed).code, 1000);
    assert.deepEqual(seen, [
      "/agent/v1/exec/pty?argv=sh&argv=-l&rows=30&cols=100&term=xterm",
    ]);
  } finally {
    await server.shutdown();
    await agent.shutdown();
  }
});
