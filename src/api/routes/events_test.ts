import assert from "node:assert/strict";
import { VM_EVENT_TYPES } from "../../manifest/vm_events.ts";
import { apiFixture, installPlugin } from "../testing/fixtures.ts";

/** Reads SSE frames from a response until `until` is satisfied or the timeout hits. */
async function readFrames(
  res: Response,
  until: (frames: string[]) => boolean,
  timeoutMs = 5000,
): Promise<string[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const frames: string[] = [];
  let buf = "";
  const deadline = Date.now() + timeoutMs;
  try {
    while (!until(frames)) {
      if (Date.now() > deadline) throw new Error(`timeout; frames so far: ${frames.join("|")}`);
      const timer = new Promise<{ done: true; value: undefined }>((r) =>
        setTimeout(() => r({ done: true, value: undefined }), deadline - Date.now())
      );
      const { value, done } = await Promise.race([reader.read(), timer]);
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        frames.push(buf.slice(0, i));
        buf = buf.slice(i + 2);
      }
    }
  } finally {
    await reader.cancel();
  }
  return frames;
}

const events = (frames: string[]) => frames.filter((f) => f.includes("\nevent: "));

Deno.test("events: JSON page with follow=false, filters by type and resource", async () => {
  const f = await apiFixture();
  try {
    await installPlugin(f, "alpha");
    await installPlugin(f, "beta");
    await f.unix("/api/v1/plugins/beta/disable", { method: "POST" }).then((r) => r.body?.cancel());
    const all = await (await f.unix("/api/v1/events?follow=false")).json();
    const types = all.items.map((e: { type: string }) => e.type);
    assert.ok(types.includes("plugin.installed"));
    assert.ok(types.includes("plugin.disabled"));
    const ids = all.items.map((e: { id: number }) => e.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    const beta = await (await f.unix("/api/v1/events?follow=false&resource=beta")).json();
    assert.ok(beta.items.every((e: { resource: string }) => e.resource === "beta"));
    const dis = await (await f.unix("/api/v1/events?follow=false&type=plugin.disabled")).json();
    assert.deepEqual(dis.items.map((e: { resource: string }) => e.resource), ["beta"]);
    const fam = await (await f.unix("/api/v1/events?follow=false&type=vm.*")).json();
    assert.deepEqual(fam.items, []);
    const bad = await f.unix("/api/v1/events?type=bogus");
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).errors[0].field, "query.type");
  } finally {
    await f.close();
  }
});

Deno.test("events: SSE has id/event lines, resumes from Last-Event-ID, sends heartbeats", async () => {
  const f = await apiFixture();
  try {
    await installPlugin(f, "alpha");
    await installPlugin(f, "beta");
    // From the start: both installs, framed with id: and event:.
    const res = await f.unix("/api/v1/events?last_event_id=0&type=plugin.installed");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    const frames = await readFrames(res, (fr) => events(fr).length >= 2);
    const evs = events(frames);
    assert.match(evs[0], /^id: \d+\nevent: plugin\.installed\ndata: \{.*"resource":"alpha"/);
    const firstId = Number(/^id: (\d+)/.exec(evs[0])![1]);
    // Resume after the first: the header wins over the query.
    const res2 = await f.unix("/api/v1/events?last_event_id=0&type=plugin.installed", {
      headers: { "last-event-id": String(firstId) },
    });
    const evs2 = events(await readFrames(res2, (fr) => events(fr).length >= 1));
    assert.match(evs2[0], /"resource":"beta"/);
    // Live: a new event arrives on an open stream; heartbeats are comments.
    const live = await f.unix("/api/v1/events?resource=alpha");
    const pending = readFrames(
      live,
      (fr) => events(fr).length >= 1 && fr.some((x) => x.startsWith(": heartbeat")),
    );
    await new Promise((r) => setTimeout(r, 50));
    await f.unix("/api/v1/plugins/alpha/disable", { method: "POST" }).then((r) => r.body?.cancel());
    const liveFrames = await pending;
    assert.match(events(liveFrames)[0], /event: plugin\.disabled/);
    assert.ok(liveFrames.some((x) => x.startsWith(": heartbeat")));
    const bad = await f.unix("/api/v1/events", { headers: { "last-event-id": "abc" } });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).errors[0].field, "header.last-event-id");
  } finally {
    await f.close();
  }
});

Deno.test("events: the OpenAPI document shows the data schema of every vm.* event", async () => {
  const f = await apiFixture();
  try {
    const doc = await (await f.unix("/api/v1/openapi.json")).json();
    const schemas = doc.components.schemas as Record<string, { required?: string[] }>;
    for (const type of VM_EVENT_TYPES) {
      const id = type.replace(/(^|[._])([a-z])/g, (_, __, c: string) => c.toUpperCase());
      assert.ok(schemas[`${id}EventData`], `${type} -> ${id}EventData`);
    }
    assert.deepEqual(schemas.VmStoppedEventData.required, ["cause"]);
    const stream = doc.paths["/api/v1/events"].get.responses["200"].description as string;
    assert.match(stream, /VmStoppedEventData/);
  } finally {
    await f.close();
  }
});
