import assert from "node:assert/strict";
import { createApp } from "../app.ts";
import type { ApiDeps } from "../deps.ts";
import { stubVms, vmRecord } from "../testing/stub_vms.ts";
import { testGuestService } from "../testing/guest_service.ts";
import { originAllowed } from "./console.ts";

Deno.test("originAllowed: absent or same host only", () => {
  assert.equal(originAllowed(undefined, "localhost:7777"), true);
  assert.equal(originAllowed("http://localhost:7777", "localhost:7777"), true);
  assert.equal(originAllowed("https://evil.example", "localhost:7777"), false);
  assert.equal(originAllowed("http://localhost:7778", "localhost:7777"), false);
  assert.equal(originAllowed("null", "localhost:7777"), false);
  assert.equal(originAllowed("http://localhost:7777", undefined), false);
});

Deno.test("console: a real WebSocket over TCP bridges to a real unix serial socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-console-" });
  const serialPath = `${dir}/serial.sock`;
  // The "VM serial line": a unix socket server that greets, then echoes upper-cased.
  const serial = Deno.listen({ transport: "unix", path: serialPath });
  const serialDone = (async () => {
    const conn = await serial.accept();
    await conn.write(new TextEncoder().encode("login: "));
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    const text = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    await conn.write(new TextEncoder().encode(text.toUpperCase()));
    conn.close();
  })();
  const vms = stubVms(
    [vmRecord({ name: "web" }), vmRecord({ name: "off", state: "stopped" })],
    {
      web: { name: "web", state: "running", serialSocket: serialPath, serialLog: `${dir}/log` },
      off: { name: "off", state: "stopped", serialLog: `${dir}/log` },
    },
  );
  // The SerialDialer port, as the daemon's adapter does it: a unix socket connection.
  const guest = testGuestService(vms, {
    serial: { open: (path) => Deno.connect({ transport: "unix", path }) },
  });
  const services = { vms, guest } as unknown as ApiDeps["services"];
  const app = createApp({ services, auth: { token: "tok" } });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => app.fetch(req, { transport: "tcp" }),
  );
  const base = `127.0.0.1:${server.addr.port}`;
  try {
    // Pre-upgrade refusals are problem+json.
    const noToken = await fetch(`http://${base}/ws/v1/vms/web/console`);
    assert.equal(noToken.status, 401);
    await noToken.body?.cancel();
    const evil = await fetch(`http://${base}/ws/v1/vms/web/console`, {
      headers: {
        authorization: "Bearer tok",
        origin: "https://evil.example",
        upgrade: "websocket",
      },
    });
    assert.equal(evil.status, 403);
    assert.equal((await evil.json()).errors[0].field, "header.origin");
    const plain = await fetch(`http://${base}/ws/v1/vms/web/console`, {
      headers: { authorization: "Bearer tok" },
    });
    assert.equal(plain.status, 400);
    await plain.body?.cancel();
    const stopped = await fetch(`http://${base}/ws/v1/vms/off/console`, {
      headers: { authorization: "Bearer tok", upgrade: "websocket" },
    });
    assert.equal(stopped.status, 409);
    await stopped.body?.cancel();

    const ws = new WebSocket(`ws://${base}/ws/v1/vms/web/console`, {
      headers: { authorization: "Bearer tok", origin: `http://${base}` },
    });
    ws.binaryType = "arraybuffer";
    const received: string[] = [];
    const closed = new Promise<CloseEvent>((resolve) => (ws.onclose = resolve));
    ws.onmessage = (ev) => {
      received.push(new TextDecoder().decode(new Uint8Array(ev.data as ArrayBuffer)));
      if (received.join("") === "login: ") ws.send("root\n");
    };
    const ev = await closed;
    await serialDone;
    assert.equal(received.join(""), "login: ROOT\n");
    assert.equal(ev.code, 1000);
  } finally {
    await server.shutdown();
    serial.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("console: the route reaches the serial line only through the SerialDialer port (in-memory fake)", async () => {
  // Fake at the port: a "serial line" made of two in-memory pipes.
  const toGuest = new TransformStream<Uint8Array, Uint8Array>();
  const fromGuest = new TransformStream<Uint8Array, Uint8Array>();
  const opened: string[] = [];
  let closed = 0;
  const vms = stubVms([vmRecord({ name: "web" })], {
    web: { name: "web", state: "running", serialSocket: "/fake/serial.sock", serialLog: "/x" },
  });
  const guest = testGuestService(vms, {
    serial: {
      open: (path) => {
        opened.push(path);
        return Promise.resolve({
          readable: fromGuest.readable,
          writable: toGuest.writable,
          close: () => closed++,
        });
      },
    },
  });
  const services = { vms, guest } as unknown as ApiDeps["services"];
  const app = createApp({ services, auth: {} });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => app.fetch(req, { transport: "unix" }),
  );
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/ws/v1/vms/web/console`);
    ws.binaryType = "arraybuffer";
    await new Promise((r) => (ws.onopen = r));
    const got = new Promise<string>((resolve) => {
      ws.onmessage = (ev) => resolve(new TextDecoder().decode(new Uint8Array(ev.data)));
    });
    const guestWriter = fromGuest.writable.getWriter();
    await guestWriter.write(new TextEncoder().encode("# "));
    assert.equal(await got, "# ");
    ws.send("uname\n");
    const reader = toGuest.readable.getReader();
    const typed = await reader.read();
    assert.equal(new TextDecoder().decode(typed.value), "uname\n");
    const wsClosed = new Promise((r) => (ws.onclose = r));
    await guestWriter.close(); // the VM side ends: the WebSocket closes too
    await wsClosed;
    assert.deepEqual(opened, ["/fake/serial.sock"]);
    assert.equal(closed, 1);
    reader.releaseLock();
  } finally {
    await server.shutdown();
  }
});
