/**
 * Events through the client against the real app on a real unix socket:
 * the JSON page, the live SSE stream, and resume with Last-Event-ID after
 * the connection is cut (a relay drops it) with no event lost or repeated.
 */
import assert from "node:assert/strict";
import { createClient } from "./client.ts";
import type { ClientEvent } from "./events.ts";
import { serveApi, startRelay, writePlugin } from "./testing.ts";

Deno.test("listEvents pages past events with type filters", async () => {
  const api = await serveApi();
  const client = createClient({ socket: api.socket });
  try {
    await client.installPlugin({
      path: await writePlugin(api.fixture.dir, "web"),
      allow_unverified: false,
    });
    await client.setPluginEnabled("web", false);
    const all = await client.listEvents();
    assert.ok(all.some((e) => e.type === "plugin.installed" && e.resource === "web"));
    const disabled = await client.listEvents({ types: ["plugin.disabled"] });
    assert.deepEqual(disabled.map((e) => e.type), ["plugin.disabled"]);
    const after = await client.listEvents({ after: disabled[0].id });
    assert.ok(after.every((e) => e.id > disabled[0].id));
  } finally {
    client.close();
    await api.close();
  }
});

Deno.test("streamEvents delivers live events after onConnect", async () => {
  const api = await serveApi();
  const client = createClient({ socket: api.socket });
  const abort = new AbortController();
  try {
    let ready!: () => void;
    const connected = new Promise<void>((r) => ready = r);
    const got: ClientEvent[] = [];
    const reading = (async () => {
      for await (
        const e of client.streamEvents({
          types: ["plugin.*"],
          signal: abort.signal,
          onConnect: ready,
        })
      ) {
        got.push(e);
        if (e.type === "plugin.installed") break;
      }
    })();
    await connected;
    await client.installPlugin({
      path: await writePlugin(api.fixture.dir, "web"),
      allow_unverified: false,
    });
    await reading;
    assert.ok(got.some((e) => e.type === "plugin.download"), JSON.stringify(got));
    assert.equal(got.at(-1)?.type, "plugin.installed");
    const ids = got.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  } finally {
    abort.abort();
    client.close();
    await api.close();
  }
});

Deno.test("streamEvents resumes with Last-Event-ID after a cut: nothing lost, nothing repeated", async () => {
  const api = await serveApi();
  const relay = startRelay(`${api.fixture.dir}/relay.sock`, api.socket);
  const admin = createClient({ socket: api.socket });
  const client = createClient({ socket: relay.path });
  const abort = new AbortController();
  try {
    await admin.installPlugin({
      path: await writePlugin(api.fixture.dir, "web"),
      allow_unverified: false,
    });
    let connects = 0;
    let firstConnect!: () => void;
    const connected = new Promise<void>((r) => firstConnect = r);
    const got: ClientEvent[] = [];
    let gotFirst!: () => void;
    const first = new Promise<void>((r) => gotFirst = r);
    const reading = (async () => {
      const stream = client.streamEvents({
        types: ["plugin.enabled", "plugin.disabled"],
        signal: abort.signal,
        maxBackoffMs: 100,
        onConnect: () => {
          connects++;
          firstConnect();
        },
      });
      for await (const e of stream) {
        got.push(e);
        if (got.length === 1) gotFirst();
        if (got.length === 6) break;
      }
    })();
    await connected;
    await admin.setPluginEnabled("web", false);
    await first;
    relay.cut();
    // Published while the client is disconnected (or reconnecting).
    await admin.setPluginEnabled("web", true);
    await admin.setPluginEnabled("web", false);
    await admin.setPluginEnabled("web", true);
    await admin.setPluginEnabled("web", false);
    await admin.setPluginEnabled("web", true);
    await reading;
    assert.ok(connects >= 2, `expected a reconnect, got ${connects} connects`);
    assert.deepEqual(got.map((e) => e.type), [
      "plugin.disabled",
      "plugin.enabled",
      "plugin.disabled",
      "plugin.enabled",
      "plugin.disabled",
      "plugin.enabled",
    ]);
    const ids = got.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, `repeated ids: ${ids}`);
  } finally {
    abort.abort();
    client.close();
    admin.close();
    await relay.close();
    await api.close();
  }
});

Deno.test("streamEvents fails at once when there is no daemon", async () => {
  const dir = await Deno.makeTempDir();
  const client = createClient({ socket: `${dir}/none.sock` });
  try {
    await assert.rejects(
      async () => {
        for await (const _ of client.streamEvents()) break;
      },
      /is volantd running/,
    );
  } finally {
    client.close();
    await Deno.remove(dir, { recursive: true });
  }
});
