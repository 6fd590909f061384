/**
 * The serial routes against a real VM: the real daemon runs in a network
 * namespace this test creates (`unshare -n`), boots the minimal test guest
 * (our kernel + a busybox initramfs that echoes console lines) under QEMU,
 * and the test reads GET /api/v1/vms/{name}/logs?follow=true and talks to
 * the guest through the WebSocket console, both over the daemon's unix socket.
 */
import assert from "node:assert/strict";
import { startDaemonProcess } from "../../src/daemon/testing/harness.ts";
import { jsonBody } from "../../src/api/testing/fixtures.ts";
import { buildTestGuest, GUEST_LINES, makeRawImage } from "../../src/vmm/testing/guest_fixture.ts";

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads a byte stream until `pattern` matches the accumulated text. */
async function readUntil(
  body: ReadableStream<Uint8Array>,
  pattern: RegExp,
  timeoutMs: number,
): Promise<string> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const timer = setTimeout(() => reader.cancel(), timeoutMs);
  try {
    while (!pattern.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before ${pattern}; got:\n${text.slice(-2000)}`);
      text += value;
    }
    return text;
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => undefined);
  }
}

/** SIGKILL for a VMM left behind by a failed test; a gone process is fine. */
function killIfAlive(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) console.error(`kill ${pid}: ${error}`);
  }
}

Deno.test("logs follow and the WebSocket console reach a real QEMU guest", async () => {
  if (Deno.uid() !== 0) throw new Error("needs root (creates a network namespace and TAPs)");
  const guest = await buildTestGuest(); // fails saying how to build the kernel when it is missing
  const pdir = `${guest.dir}/plugin`;
  await Deno.mkdir(pdir);
  await Deno.copyFile(guest.initramfs, `${pdir}/boot.cpio`);
  await Deno.writeTextFile(
    `${pdir}/manifest.json`,
    JSON.stringify({
      schema_version: "1.0",
      name: "echo",
      version: "1.0.0",
      initramfs: { url: "boot.cpio", checksum: `sha256:${await sha256(`${pdir}/boot.cpio`)}` },
      resources: { cpu_cores: 1, memory_mb: 128 },
      workload: { type: "http", entrypoint: ["/init"], base_url: "http://127.0.0.1:8080" },
    }),
  );
  const agentImage = `${guest.dir}/agent.img`;
  await makeRawImage(agentImage, 4);
  const d = await startDaemonProcess({
    hostNetwork: true,
    wrap: ["unshare", "-n"],
    configText: [
      `kernel = "${guest.kernel}"`,
      `agent_image = "${agentImage}"`,
      `bridge = "vbrc0"`,
      `subnet = "10.79.0.0/24"`,
      `stop_grace_seconds = 5`,
    ].join("\n") + "\n",
  });
  let pid: number | undefined;
  try {
    const inst = await d.fetch(
      "/api/v1/plugins",
      jsonBody("POST", { path: `${pdir}/manifest.json` }),
    );
    assert.equal(inst.status, 201, await inst.clone().text());
    await inst.body?.cancel();
    const created = await d.fetch(
      "/api/v1/vms",
      jsonBody("POST", { name: "echo1", plugin: "echo" }),
    );
    const vm = await created.json();
    assert.equal(created.status, 201, JSON.stringify(vm));
    pid = vm.pid;
    assert.ok(["starting", "running"].includes(vm.state), vm.state);

    const logs = await d.fetch("/api/v1/vms/echo1/logs?tail=0&follow=true");
    assert.equal(logs.status, 200);
    const boot = await readUntil(logs.body!, new RegExp(GUEST_LINES.ready), 120_000);
    assert.match(boot, /Linux version/);

    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: d.socket } });
    try {
      const ws = new WebSocket("ws://volantd/ws/v1/vms/echo1/console", { client });
      ws.binaryType = "arraybuffer";
      let out = "";
      const echoed = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no echo; console got:\n${out}`)), 30_000);
        ws.onmessage = (ev) => {
          out += new TextDecoder().decode(new Uint8Array(ev.data as ArrayBuffer));
          if (out.includes(`${GUEST_LINES.echo} hello-api`)) {
            clearTimeout(timer);
            resolve();
          }
        };
        ws.onerror = (e) => reject(new Error(`websocket error: ${(e as ErrorEvent).message}`));
      });
      await new Promise<void>((resolve) => (ws.onopen = () => resolve()));
      ws.send("hello-api\n");
      await echoed;
      ws.close();
    } finally {
      client.close();
    }

    const stop = await d.fetch("/api/v1/vms/echo1/stop", { method: "POST" });
    const stopped = await stop.json();
    assert.equal(stop.status, 200, JSON.stringify(stopped));
    assert.equal(stopped.state, "stopped");
    const del = await d.fetch("/api/v1/vms/echo1", { method: "DELETE" });
    assert.equal(del.status, 204);
    pid = undefined;
  } finally {
    if (pid !== undefined) killIfAlive(pid); // the QEMU this test started, by pid
    await d.stop();
    await d.cleanup();
    await Deno.remove(guest.dir, { recursive: true });
  }
});
