/**
 * The daemon's end of the agent channel against a stand-in for QEMU's
 * chardev socket: a real unix listener whose connection is served by a guest
 * mux session relaying each stream to a real HTTP server on 127.0.0.1, as
 * kestrel does (agent/channel.ts). The target has no address (as a
 * vsock-mode VM), so an answer proves the channel carried it.
 */
import assert from "node:assert/strict";
import { MuxSession, type MuxStream } from "../shared/mux.ts";
import type { HelloPayload } from "../shared/mux_codec.ts";
import { AgentChannels } from "./channel.ts";
import { GuestClient } from "./client.ts";

/** A fake VMM end: accepts the daemon, relays its streams to `port`; records hellos. */
function fakeGuest(path: string, port: number) {
  const hellos: HelloPayload[] = [];
  const conns: Deno.UnixConn[] = [];
  const listener = Deno.listen({ transport: "unix", path });
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      const writer = conn.writable.getWriter();
      let nonce: string | null = null;
      const session: MuxSession = new MuxSession({
        role: "guest",
        // The daemon may close the link under a live session (the test does): frames then fail.
        write: (b) =>
          writer.write(b).catch((e: unknown) => {
            if (
              !(e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.ConnectionReset)
            ) {
              throw e;
            }
          }),
        onOpen: (s) => void relay(s, port),
        onHello: (h) => {
          hellos.push(h);
          const fresh = h.nonce !== nonce;
          nonce = h.nonce;
          void session.hello({ nonce: h.nonce });
          return fresh;
        },
      });
      void (async () => {
        try {
          for await (const c of conn.readable) session.feed(c);
        } catch (e) {
          if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted)) {
            throw e;
          }
        }
        session.close();
      })();
    }
  })();
  return {
    hellos,
    /** Drops the daemon's connection, as a VMM that exits does. */
    drop: () => conns.splice(0).forEach((c) => c.close()),
    close: async () => {
      listener.close();
      await serving.catch(() => {});
    },
  };
}

async function relay(s: MuxStream, port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await Promise.allSettled([
    s.readable.pipeTo(conn.writable, { preventClose: true }).then(() => conn.closeWrite()),
    conn.readable.pipeTo(s.writable),
  ]);
}

Deno.test("channel: the client reaches the agent over the channel only; hello carries the key; a dropped link redials", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-chan-" });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/healthz") return new Response("ok");
    if (path === "/v1/echo") {
      return new Response(req.body, {
        headers: { "x-key": req.headers.get("x-volant-agent-key")! },
      });
    }
    return new Response("no", { status: 404 });
  });
  const channel = `${dir}/agent.sock`;
  const guest = fakeGuest(channel, server.addr.port);
  const channels = new AgentChannels();
  try {
    const client = new GuestClient({ port: server.addr.port, timeoutMs: 5_000, channels });
    // No address (a vsock-mode VM): once kestrel has answered, the channel carries everything.
    const target = { ip: "", key: "k1", name: "web", channel };
    // Before kestrel's hello the client goes by the network (refused here) while the link dials.
    assert.equal((await client.health(target)).ok, false);
    await channels.established(channel);
    assert.deepEqual(await client.health(target), { ok: true, status: 200 });
    assert.equal(guest.hellos[0].key, "k1");
    const big = "x".repeat(3 * 1024 * 1024);
    const [echo, health] = await Promise.all([
      client.request(target, {
        method: "POST",
        path: "/v1/echo",
        body: big,
        timeoutMs: 20_000,
        maxBytes: big.length,
      }),
      client.health(target),
    ]);
    assert.equal(echo.status, 200);
    assert.equal(new TextDecoder().decode(echo.body), big);
    assert.ok(health.ok);
    assert.ok(channels.streams(channel) >= 1);
    assert.equal((await Deno.stat(channels.httpSocket(channel)!)).mode! & 0o777, 0o600);
    // The VMM went away and came back: the next call dials again with a fresh hello.
    guest.drop();
    let h = await client.health(target);
    for (let i = 0; i < 5 && !h.ok; i++) {
      await channels.established(channel).catch((e: unknown) => {
        if (!(e instanceof Error)) throw e; // the drop may land mid-dial: the next call redials
      });
      h = await client.health(target);
    }
    assert.ok(h.ok, JSON.stringify(h));
    assert.ok(guest.hellos.length >= 2);
    assert.notEqual(guest.hellos.at(-1)!.nonce, guest.hellos[0].nonce);
    // The VM was deleted and made again under its name: its runtime dir (and the link's local
    // socket in it) went, so the next call makes a new link and still reaches the agent.
    await Deno.remove(channels.httpSocket(channel)!);
    await Deno.remove(`${dir}/agent-channel-spoken`); // went with the dir: the new VM may not speak
    assert.equal((await client.health(target)).ok, false); // by the network while it redials
    await channels.established(channel);
    assert.deepEqual(await client.health(target), { ok: true, status: 200 });
    // No socket: the channel is not offered and the client goes to the network.
    const none = new GuestClient({ port: server.addr.port, timeoutMs: 2_000, channels });
    const direct = await none.health({ ip: "127.0.0.1", channel: `${dir}/absent.sock` });
    assert.deepEqual(direct, { ok: true, status: 200 });
  } finally {
    channels.close();
    await guest.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("channel: after a daemon restart, requests to a guest that spoke the channel wait for the new link, not the network", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-chan-" });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    return new Response(new URL(req.url).pathname);
  });
  const channel = `${dir}/agent.sock`;
  const guest = fakeGuest(channel, server.addr.port);
  // The VM's network path is down (its TAP, in the e2e): nothing listens on 127.0.0.2 here.
  const target = { ip: "127.0.0.2", key: "k1", name: "web", channel };
  const first = new AgentChannels();
  const restarted = new AgentChannels();
  try {
    first.client(channel, "k1");
    await first.established(channel);
    assert.ok(
      (await Deno.stat(`${dir}/agent-channel-spoken`)).isFile,
      "kestrel's answer is recorded in the VM's runtime dir",
    );
    first.close(); // the daemon died; its successor has no link yet
    const client = new GuestClient({ port: 18080, timeoutMs: 5_000, channels: restarted });
    const r = await client.request(target, { method: "GET", path: "/v1/status", timeoutMs: 5_000 });
    assert.equal(new TextDecoder().decode(r.body), "/v1/status");
    assert.equal(restarted.streams(channel), 1, "the first request went over the new link");
  } finally {
    first.close();
    restarted.close();
    await guest.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("channel: a guest that never answers the hello (its own init) is reached by the network", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-chan-" });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("ok"),
  );
  // A port with nobody behind it: QEMU accepts the daemon, the guest reads nothing.
  const channel = `${dir}/agent.sock`;
  const silent = Deno.listen({ transport: "unix", path: channel });
  const held: Deno.UnixConn[] = [];
  const accepting = (async () => {
    for await (const c of silent) held.push(c);
  })();
  const channels = new AgentChannels();
  try {
    const client = new GuestClient({ port: server.addr.port, timeoutMs: 2_000, channels });
    const target = { ip: "127.0.0.1", name: "own-init", channel };
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await client.health(target), { ok: true, status: 200 });
      // Requests do not wait for the link either: this guest never spoke the channel.
      const r = await client.request(target, { method: "GET", path: "/", timeoutMs: 2_000 });
      assert.equal(r.status, 200);
    }
    assert.equal(channels.streams(channel), 0, "nothing went over the silent channel");
  } finally {
    channels.close();
    silent.close();
    await accepting.catch((e: unknown) => {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    });
    held.forEach((c) => c.close());
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
