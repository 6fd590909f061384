/** The RFC 6455 client against Deno's own WebSocket server, over real TCP and a unix socket. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { connectWebSocket, WsClient } from "./websocket.ts";

function echoServer(listen: { hostname: string; port: number } | { path: string }) {
  const options = { ...listen, onListen: () => {} } as Deno.ServeTcpOptions;
  return Deno.serve(options, (req: Request) => {
    if (req.headers.get("x-key") !== "k") return new Response("no key", { status: 401 });
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (ev) => {
      if (ev.data === "bye") socket.close(4000, "asked");
      else socket.send(ev.data);
    };
    return response;
  });
}

async function roundTrip(ws: WsClient) {
  const it = ws.messages();
  await ws.send("hello");
  assertEquals((await it.next()).value, "hello");
  const big = new Uint8Array(70_000).map((_, i) => i & 0xff);
  await ws.send(big);
  assertEquals((await it.next()).value, big);
  await ws.send("bye");
  assert((await it.next()).done);
  assertEquals(await ws.closed, { code: 4000, reason: "asked" });
}

Deno.test("websocket client: text, a 70 kB binary, the server's close; a refusal keeps status and body", async () => {
  const server = echoServer({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (server.addr as Deno.NetAddr).port;
    const ws = await connectWebSocket(await Deno.connect({ hostname: "127.0.0.1", port }), {
      host: `127.0.0.1:${port}`,
      path: "/x?a=1",
      headers: { "x-key": "k" },
    });
    assert(ws instanceof WsClient);
    await roundTrip(ws);
    const refused = await connectWebSocket(await Deno.connect({ hostname: "127.0.0.1", port }), {
      host: "h",
      path: "/",
    });
    assert(!(refused instanceof WsClient));
    assertEquals([refused.status, refused.body], [401, "no key"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("websocket client: over a unix socket, and the client's own close", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/s.sock`;
  const server = echoServer({ path });
  try {
    const ws = await connectWebSocket(await Deno.connect({ transport: "unix", path }), {
      host: "localhost",
      path: "/",
      headers: { "x-key": "k" },
    });
    assert(ws instanceof WsClient);
    const it = ws.messages();
    await ws.send("a");
    assertEquals((await it.next()).value, "a");
    ws.close(1000, "done");
    assert((await it.next()).done);
    assertEquals((await ws.closed).code, 1000);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
