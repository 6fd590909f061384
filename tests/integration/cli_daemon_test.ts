/**
 * volar as a real subprocess (invoked as `volar`) against the real volantd
 * (`deno run -A src/main.ts volantd ...`, --no-host-network) on a real unix
 * socket with a temp state dir: plugins, VMs, config, events (page and
 * follow), TCP with and without the token, and a stopped daemon.
 */
import assert from "node:assert/strict";
import { writePlugin } from "../../src/api/testing/fixtures.ts";
import { startDaemonProcess } from "../../src/daemon/testing/harness.ts";
import { runVolar } from "../../src/cli/testing.ts";

Deno.test("volar drives the real daemon: plugins, vms, config, events", async () => {
  const d = await startDaemonProcess();
  const env = { VOLANT_SOCKET: d.socket };
  const volar = (...args: string[]) => runVolar(args, { env });
  try {
    const info = await volar("info");
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /^Version:\s+0\.\d+\.\d+$/m);

    const path = await writePlugin(d.dir, "caddy");
    const inst = await volar("plugins", "install", path);
    assert.equal(inst.code, 0, inst.stderr);
    assert.equal(inst.stdout, "plugin caddy 1.0.0 installed (1 artifact, 4.0 KiB)\n");
    assert.equal(inst.stderr, "downloaded initramfs (4.0 KiB)\n");

    const list = await volar("plugins", "list");
    assert.match(
      list.stdout,
      /^NAME\s+VERSION\s+RUNTIME\s+ENABLED\s+VERIFIED\s+ARTIFACTS\ncaddy\s+1\.0\.0\s+caddy\s+yes\s+yes\s+1\n$/,
    );
    const show = JSON.parse((await volar("plugins", "show", "caddy", "-o", "json")).stdout);
    assert.equal(show.name, "caddy");
    assert.equal(show.artifacts[0].kind, "initramfs");

    const created = await volar(
      "vms",
      "create",
      "web",
      "--plugin",
      "caddy",
      "--no-start",
      "--memory",
      "256",
    );
    assert.equal(created.code, 0, created.stderr);
    const vm = JSON.parse((await volar("vms", "show", "web", "-o", "json")).stdout);
    for (const key of ["name", "state", "ip", "mac", "plugin"]) assert.ok(key in vm, key);
    assert.equal(vm.state, "created");
    assert.equal(vm.memory_mb, 256);
    const table = (await volar("vms", "list")).stdout.split("\n");
    assert.deepEqual(table[0].split(/\s+/), [
      "NAME",
      "STATE",
      "PLUGIN",
      "IP",
      "MAC",
      "CPU",
      "MEM",
      "HEALTH",
    ]);
    assert.equal(table[1].split(/\s+/)[3], vm.ip);

    // No host networking in this daemon: a start is 503 -> exit 8, one line naming why.
    const start = await volar("vms", "start", "web");
    assert.equal(start.code, 8, start.stderr);
    assert.equal(start.stderr.split("\n").length, 2);
    assert.match(start.stderr, /^volar: .*(network|hypervisor)/i);

    const removeBusy = await volar("plugins", "remove", "caddy");
    assert.equal(removeBusy.code, 4, removeBusy.stderr);
    assert.equal((await volar("plugins", "disable", "caddy")).stdout, "plugin caddy disabled\n");
    const disabled = await volar("vms", "create", "web2", "--plugin", "caddy", "--no-start");
    assert.equal(disabled.code, 4, disabled.stderr);
    assert.equal((await volar("plugins", "enable", "caddy")).code, 0);

    const set = await volar("vms", "config", "set", "web", "cpu=2");
    assert.equal(
      set.stdout,
      "vm web config is now version 2 (applied at next start)\n",
      set.stderr,
    );
    const hist = await volar("vms", "config", "history", "web", "-o", "json");
    assert.deepEqual(JSON.parse(hist.stdout).map((h: { version: number }) => h.version), [2, 1]);

    const events = await volar("events", "--type", "vm.*,plugin.installed");
    assert.match(events.stdout, /plugin\.installed\s+caddy/);
    assert.match(events.stdout, /vm\.created\s+web/);

    const del = await volar("vms", "delete", "web");
    assert.equal(del.stdout, "vm web deleted\n", del.stderr);
    const gone = await volar("vms", "show", "web");
    assert.equal(gone.code, 3);
    assert.equal((await volar("plugins", "remove", "caddy")).stdout, "plugin caddy removed\n");
    assert.equal((await volar("plugins", "list")).stdout, "No plugins installed.\n");
  } finally {
    await d.stop();
    await d.cleanup();
  }
});

Deno.test("volar events --follow prints live events and ends cleanly on SIGINT", async () => {
  const d = await startDaemonProcess();
  try {
    await runVolar(["plugins", "install", await writePlugin(d.dir, "caddy")], {
      env: { VOLANT_SOCKET: d.socket },
    });
    const main = new URL("../../src/main.ts", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, "volar", "events", "--follow", "-o", "json", "--type", "vm.*"],
      env: { NO_COLOR: "1", VOLANT_SOCKET: d.socket },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    // Create VMs until the follower (still starting up) prints one.
    let line = "";
    // One pending read at a time: a read abandoned by the race would swallow its chunk.
    let pending: Promise<ReadableStreamReadResult<string>> | undefined;
    for (let i = 0; i < 60 && !line.includes("\n"); i++) {
      const res = await d.fetch("/api/v1/vms", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: `v${i}`, plugin: "caddy", start: false }),
      });
      await res.body?.cancel();
      pending ??= reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const got = await Promise.race([
        pending,
        new Promise<null>((r) => timer = setTimeout(() => r(null), 500)),
      ]);
      clearTimeout(timer);
      if (got) {
        pending = undefined;
        if (!got.done) line += got.value;
      }
    }
    const first = JSON.parse(line.split("\n")[0]);
    assert.equal(first.type, "vm.created");
    assert.match(first.resource, /^v\d+$/);
    child.kill("SIGINT");
    reader.releaseLock();
    const status = await child.status;
    await child.stdout.cancel().catch((error) => {
      if (!(error instanceof TypeError)) throw error;
    });
    const err = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
    assert.equal(status.code, 0, err);
  } finally {
    await d.stop();
    await d.cleanup();
  }
});

Deno.test("volar events --follow survives a daemon restart: no event lost or repeated", async () => {
  const d1 = await startDaemonProcess();
  const main = new URL("../../src/main.ts", import.meta.url).pathname;
  const post = async (d: typeof d1, path: string, body: unknown) => {
    const res = await d.fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    assert.ok(res.ok, await res.clone().text());
    await res.body?.cancel();
  };
  let d2: typeof d1 | undefined;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, "volar", "events", "-f", "-o", "json", "--type", "plugin.*"],
    env: { NO_COLOR: "1", VOLANT_SOCKET: d1.socket },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  const lines = () => out.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  const readUntil = async (count: number) => {
    while (lines().length < count) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`volar ended early: ${out}`);
      out += value;
    }
  };
  try {
    await post(d1, "/api/v1/plugins", { path: await writePlugin(d1.dir, "caddy") });
    // Toggle until the follower (still starting) has printed something.
    let toggles = 0;
    let pending: Promise<ReadableStreamReadResult<string>> | undefined;
    while (lines().length === 0 && toggles < 60) {
      await post(d1, "/api/v1/plugins/caddy/enabled", { enabled: toggles++ % 2 === 1 });
      pending ??= reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const got = await Promise.race([
        pending,
        new Promise<null>((r) => timer = setTimeout(() => r(null), 500)),
      ]);
      clearTimeout(timer);
      if (got) {
        pending = undefined;
        if (!got.done) out += got.value;
      }
    }
    if (pending) {
      const got = await pending;
      if (!got.done) out += got.value;
    }
    assert.equal(await d1.stop(), 0);
    d2 = await startDaemonProcess({ dir: d1.dir });
    // Events published before the follower can reconnect must still reach it.
    await post(d2, "/api/v1/plugins/caddy/enabled", { enabled: false });
    await post(d2, "/api/v1/plugins/caddy/enabled", { enabled: true });
    const res = await d2.fetch("/api/v1/events?follow=false&type=plugin.*");
    const all = (await res.json()).items as { id: number }[];
    const firstSeen = lines()[0].id;
    const expected = all.filter((e) => e.id >= firstSeen).map((e) => e.id);
    await readUntil(expected.length);
    assert.deepEqual(lines().map((e) => e.id), expected);
  } finally {
    child.kill("SIGINT");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel().catch((error) => {
      if (!(error instanceof TypeError)) throw error;
    });
    await child.stderr.cancel();
    if (d2) await d2.stop();
    else await d1.stop();
    await d1.cleanup();
  }
});

Deno.test("volar over TCP: token required (exit 5 without), works with VOLANT_TOKEN", async () => {
  const d = await startDaemonProcess({ tcp: true });
  try {
    const api = `http://${d.listen}`;
    const token = (await Deno.readTextFile(`${d.stateDir}/api-token`)).trim();
    const noToken = await runVolar(["--api", api, "vms", "list"]);
    assert.equal(noToken.code, 5, noToken.stderr);
    assert.match(
      noToken.stderr,
      /^volar: .*\(pass --token or VOLANT_TOKEN for http:\/\/127\.0\.0\.1:\d+\/\)\n$/,
    );
    const ok = await runVolar(["vms", "list"], { env: { VOLANT_API: api, VOLANT_TOKEN: token } });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "No VMs found.\n");
  } finally {
    await d.stop();
    await d.cleanup();
  }
});

Deno.test("volar with the daemon stopped: exit 8 and the socket in a one-line hint", async () => {
  const d = await startDaemonProcess();
  await d.stop();
  try {
    const r = await runVolar(["vms", "list"], { env: { VOLANT_SOCKET: d.socket } });
    assert.equal(r.code, 8);
    assert.match(
      r.stderr,
      new RegExp(
        `^volar: cannot reach volantd \\(.+\\): is volantd running\\? socket ${d.socket}\\n$`,
      ),
    );
  } finally {
    await d.cleanup();
  }
});
