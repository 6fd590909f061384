import assert from "node:assert/strict";
import { createApp } from "../app.ts";
import type { ApiDeps } from "../deps.ts";
import { fileLogReader } from "../log_reader.ts";
import { stubVms, vmRecord } from "../testing/stub_vms.ts";

Deno.test("logs: tail, then follow streams new serial output", async () => {
  const dir = await Deno.makeTempDir();
  const log = `${dir}/serial.log`;
  await Deno.writeTextFile(log, "boot 1\nboot 2\nboot 3\n");
  const vms = stubVms([vmRecord({ name: "web" })], {
    web: { name: "web", state: "running", serialSocket: `${dir}/s.sock`, serialLog: log },
  });
  const services = { vms } as unknown as ApiDeps["services"];
  const app = createApp({ services, auth: {}, logs: fileLogReader({ pollMs: 20 }) });
  try {
    const tail = await app.request("/api/v1/vms/web/logs?tail=2", {}, { transport: "unix" });
    assert.equal(tail.status, 200);
    assert.match(tail.headers.get("content-type") ?? "", /^text\/plain/);
    assert.equal(await tail.text(), "boot 2\nboot 3\n");
    const bad = await app.request("/api/v1/vms/web/logs?tail=-1", {}, { transport: "unix" });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).errors[0].field, "query.tail");
    const missing = await app.request("/api/v1/vms/nope/logs", {}, { transport: "unix" });
    assert.equal(missing.status, 404);
    await missing.body?.cancel();

    const abort = new AbortController();
    const follow = await app.request("/api/v1/vms/web/logs?tail=1&follow=true", {
      signal: abort.signal,
    }, { transport: "unix" });
    const reader = follow.body!.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await reader.read()).value, "boot 3\n");
    await Deno.writeTextFile(log, "ready\n", { append: true });
    assert.equal((await reader.read()).value, "ready\n");
    await reader.cancel();
    abort.abort();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
