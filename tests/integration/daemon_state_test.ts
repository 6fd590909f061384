/**
 * The real daemon over its unix socket: a restart keeps plugins, leases and
 * events (ids keep increasing); SSE resumes after a disconnect with exactly
 * the missed events; VM starts answer 503 naming what is missing when host
 * networking is off.
 */
import assert from "node:assert/strict";
import { type DaemonProcess, startDaemonProcess } from "../../src/daemon/testing/harness.ts";
import { jsonBody, writePlugin } from "../../src/api/testing/fixtures.ts";

async function install(d: DaemonProcess, name: string): Promise<void> {
  const path = await writePlugin(d.dir, name);
  const res = await d.fetch("/api/v1/plugins", jsonBody("POST", { path }));
  assert.equal(res.status, 201, await res.clone().text());
  await res.body?.cancel();
}

async function createVm(d: DaemonProcess, name: string, plugin: string) {
  const res = await d.fetch("/api/v1/vms", jsonBody("POST", { name, plugin, start: false }));
  assert.equal(res.status, 201, await res.clone().text());
  return await res.json();
}

/** Reads SSE frames until `count` events arrived; returns them as [id, type, data]. */
async function readEvents(
  res: Response,
  count: number,
  timeoutMs = 10_000,
): Promise<{ id: number; type: string; data: { resource: string } }[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const out: { id: number; type: string; data: { resource: string } }[] = [];
  let buf = "";
  const timer = setTimeout(() => reader.cancel(), timeoutMs);
  try {
    while (out.length < count) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const id = /^id: (\d+)$/m.exec(frame);
        const type = /^event: (.+)$/m.exec(frame);
        const data = /^data: (.+)$/m.exec(frame);
        if (id && type && data) {
          out.push({ id: Number(id[1]), type: type[1], data: JSON.parse(data[1]) });
        }
      }
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel();
  }
  return out;
}

Deno.test("a daemon restart keeps plugins, leases and events", async () => {
  const d1 = await startDaemonProcess();
  let vmBefore;
  let lastIdBefore: number;
  try {
    await install(d1, "caddy");
    vmBefore = await createVm(d1, "web", "caddy");
    await createVm(d1, "api", "caddy");
    const ev = await (await d1.fetch("/api/v1/events?follow=false")).json();
    lastIdBefore = ev.items.at(-1).id;
    assert.ok(ev.items.some((e: { type: string }) => e.type === "vm.created"));
  } finally {
    assert.equal(await d1.stop(), 0);
  }
  const d2 = await startDaemonProcess({ dir: d1.dir });
  try {
    const plugins = await (await d2.fetch("/api/v1/plugins")).json();
    assert.deepEqual(plugins.items.map((p: { name: string }) => p.name), ["caddy"]);
    const vm = await (await d2.fetch("/api/v1/vms/web")).json();
    assert.equal(vm.ip, vmBefore.ip, "the lease survives the restart");
    assert.equal(vm.mac, vmBefore.mac);
    assert.equal(vm.state, "created");
    const info = await (await d2.fetch("/api/v1/system/info")).json();
    assert.equal(info.network.leased, 2);
    // A new VM gets the next free address, not a leased one.
    const third = await createVm(d2, "db", "caddy");
    assert.notEqual(third.ip, vmBefore.ip);
    const ev = await (await d2.fetch(`/api/v1/events?follow=false`)).json();
    const ids: number[] = ev.items.map((e: { id: number }) => e.id);
    assert.ok(ids.includes(lastIdBefore!), "old events are still there");
    assert.ok(Math.max(...ids) > lastIdBefore!, "ids keep increasing after the restart");
    assert.deepEqual(ids, [...new Set(ids)].sort((a, b) => a - b));
  } finally {
    assert.equal(await d2.stop(), 0);
    await d2.cleanup();
  }
});

Deno.test("SSE resumes after a disconnect with exactly the missed events", async () => {
  const d = await startDaemonProcess();
  try {
    // Live stream from now, filtered to VM creations.
    const first = await d.fetch("/api/v1/events?type=vm.created");
    assert.equal(first.status, 200);
    const firstEvents = readEvents(first, 1);
    await install(d, "caddy");
    await createVm(d, "one", "caddy");
    const [seen] = await firstEvents; // reading stops and cancels: the client disconnects
    assert.equal(seen.type, "vm.created");
    assert.equal(seen.data.resource, "one");
    // While disconnected.
    await createVm(d, "two", "caddy");
    await createVm(d, "three", "caddy");
    const resumed = await d.fetch("/api/v1/events?type=vm.created", {
      headers: { "last-event-id": String(seen.id) },
    });
    const missed = readEvents(resumed, 3);
    await new Promise((r) => setTimeout(r, 100));
    await createVm(d, "four", "caddy"); // live after the replay
    const got = await missed;
    assert.deepEqual(got.map((e) => e.data.resource), ["two", "three", "four"]);
    assert.ok(got.every((e, i) => i === 0 ? e.id > seen.id : e.id > got[i - 1].id));
    // The query form works too.
    const q = await d.fetch(`/api/v1/events?type=vm.created&last_event_id=${got[1].id}`);
    assert.deepEqual((await readEvents(q, 1)).map((e) => e.data.resource), ["four"]);
  } finally {
    await d.stop();
    await d.cleanup();
  }
});

Deno.test("without host networking a VM start is 503 naming the reason", async () => {
  const d = await startDaemonProcess();
  try {
    await install(d, "caddy");
    await createVm(d, "web", "caddy");
    const res = await d.fetch("/api/v1/vms/web/start", { method: "POST" });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const problem = await res.json();
    assert.match(problem.detail, /network|hypervisor/i);
    const vm = await (await d.fetch("/api/v1/vms/web")).json();
    assert.ok(["created", "stopped", "crashed"].includes(vm.state), vm.state);
    assert.match(d.stderr(), /host networking skipped/);
  } finally {
    await d.stop();
    await d.cleanup();
  }
});

Deno.test("SIGTERM with an open event stream: the stream ends and the daemon exits promptly", async () => {
  const d = await startDaemonProcess();
  try {
    const res = await d.fetch("/api/v1/events");
    const reader = res.body!.getReader();
    await reader.read(); // the stream is open (retry + comment frame)
    const t0 = performance.now();
    const stopped = d.stop();
    // The server ends the stream instead of waiting for the client.
    while (!(await reader.read()).done) { /* drain until the server closes */ }
    assert.equal(await stopped, 0);
    const ms = performance.now() - t0;
    assert.ok(ms < 1500, `shutdown took ${ms.toFixed(0)} ms`);
  } finally {
    await d.cleanup();
  }
});
