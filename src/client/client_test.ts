/**
 * The client against the real API app on a real unix socket (and TCP with
 * a token): every plugin/VM/config/event route, error rebuilding, and the
 * unavailable hint.
 */
import assert from "node:assert/strict";
import { isVolantError, type VolantError } from "../errors.ts";
import { createClient } from "./client.ts";
import { serveApi, TEST_TOKEN, writePlugin } from "./testing.ts";

async function rejectsWith(
  p: Promise<unknown>,
  code: string,
  pattern?: RegExp,
): Promise<VolantError> {
  try {
    await p;
  } catch (error) {
    assert.ok(isVolantError(error), `expected a VolantError, got ${error}`);
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return error;
  }
  assert.fail(`expected a ${code} error`);
}

Deno.test("a missing socket is 'unavailable' with a one-line hint naming the socket", async () => {
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/nope.sock`;
  const client = createClient({ socket });
  try {
    const e = await rejectsWith(client.listVms(), "unavailable");
    assert.equal(
      e.message,
      `cannot reach volantd (socket does not exist): is volantd running? socket ${socket}`,
    );
    assert.ok(!e.message.includes("\n"));
  } finally {
    client.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a socket nobody listens on is 'unavailable' (connection refused)", async () => {
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/dead.sock`;
  // A hard link keeps the socket inode after Deno unlinks the listener's path on close.
  const listener = Deno.listen({ transport: "unix", path: `${dir}/live.sock` });
  await Deno.link(`${dir}/live.sock`, socket);
  listener.close();
  const client = createClient({ socket });
  try {
    await rejectsWith(
      client.listPlugins(),
      "unavailable",
      /connection refused.*is volantd running/,
    );
  } finally {
    client.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plugins: install by path, list, show, disable/enable, remove; errors rebuilt", async () => {
  const api = await serveApi();
  const client = createClient({ socket: api.socket });
  try {
    const path = await writePlugin(api.fixture.dir, "web");
    const installed = await client.installPlugin({ path, allow_unverified: false });
    assert.equal(installed.outcome, "installed");
    assert.equal(installed.plugin.name, "web");
    assert.equal(installed.plugin.artifacts.length, 1);
    const again = await client.installPlugin({ path, allow_unverified: false });
    assert.equal(again.outcome, "unchanged");

    assert.deepEqual((await client.listPlugins()).map((p) => p.name), ["web"]);
    assert.equal((await client.getPlugin("web")).enabled, true);
    assert.equal((await client.setPluginEnabled("web", false)).enabled, false);
    assert.equal((await client.setPluginEnabled("web", true)).enabled, true);

    await rejectsWith(client.getPlugin("nope"), "not_found", /nope/);
    const bad = await rejectsWith(
      client.installPlugin({ path: "relative/manifest.json", allow_unverified: false }),
      "invalid_input",
    );
    assert.ok(bad.problems.some((p) => p.field.includes("path")), JSON.stringify(bad.problems));
    assert.equal(bad.details.status, 400);

    await client.removePlugin("web");
    assert.deepEqual(await client.listPlugins(), []);
    await rejectsWith(client.removePlugin("web"), "not_found");
  } finally {
    client.close();
    await api.close();
  }
});

Deno.test("vms: create --no-start, list with total, show, config get/patch/history, delete", async () => {
  const api = await serveApi();
  const client = createClient({ socket: api.socket });
  try {
    await client.installPlugin({
      path: await writePlugin(api.fixture.dir, "web"),
      allow_unverified: false,
    });
    const vm = await client.createVm({ name: "a1", plugin: "web", start: false, cpu_cores: 2 });
    assert.equal(vm.state, "created");
    assert.equal(vm.cpu_cores, 2);
    assert.match(vm.ip, /^\d+\.\d+\.\d+\.\d+$/);
    await client.createVm({ name: "a2", plugin: "web", start: false });

    const page = await client.listVms({ limit: 1, sort: "name", order: "desc" });
    assert.equal(page.total, 2);
    assert.deepEqual(page.items.map((v) => v.name), ["a2"]);
    const filtered = await client.listVms({ q: "a1" });
    assert.deepEqual(filtered.items.map((v) => v.name), ["a1"]);
    assert.equal((await client.getVm("a1")).mac, vm.mac);

    const cfg = await client.getVmConfig("a1");
    assert.equal(cfg.version, 1);
    assert.equal(cfg.config.resources.cpu_cores, 2);
    const patched = await client.patchVmConfig("a1", { resources: { memory_mb: 256 } });
    assert.equal(patched.version, 2);
    assert.equal(patched.config.resources.memory_mb, 256);
    assert.equal(patched.config.resources.cpu_cores, 2);
    const history = await client.vmConfigHistory("a1", { limit: 1 });
    assert.deepEqual(history.map((h) => h.version), [2]);

    const bad = await rejectsWith(client.patchVmConfig("a1", { cpu: 3 }), "invalid_input");
    assert.ok(bad.problems.some((p) => p.field.includes("cpu")), JSON.stringify(bad.problems));
    await rejectsWith(client.createVm({ name: "a1", plugin: "web", start: false }), "conflict");
    await rejectsWith(client.createVm({ name: "Bad_Name", plugin: "web" }), "invalid_input");

    await client.deleteVm("a2");
    await rejectsWith(client.getVm("a2"), "not_found");
    assert.equal((await client.listVms()).total, 1);
  } finally {
    client.close();
    await api.close();
  }
});

Deno.test("starting a VM without a hypervisor is 'unavailable' naming what is missing", async () => {
  const api = await serveApi();
  const client = createClient({ socket: api.socket });
  try {
    await client.installPlugin({
      path: await writePlugin(api.fixture.dir, "web"),
      allow_unverified: false,
    });
    await client.createVm({ name: "b1", plugin: "web", start: false });
    const e = await rejectsWith(client.startVm("b1"), "unavailable");
    assert.match(e.message, /hypervisor|network/i);
  } finally {
    client.close();
    await api.close();
  }
});

Deno.test("TCP: bearer token accepted; a missing token is 'unauthorized' with a hint", async () => {
  const api = await serveApi({ tcp: true });
  const good = createClient({ api: api.url, token: TEST_TOKEN });
  const bad = createClient({ api: api.url });
  try {
    assert.deepEqual(await good.listPlugins(), []);
    const info = await good.systemInfo();
    assert.equal(info.version, "test");
    await rejectsWith(bad.listPlugins(), "unauthorized", /--token or VOLANT_TOKEN/);
  } finally {
    good.close();
    bad.close();
    await api.close();
  }
});

Deno.test("a refused TCP port is 'unavailable' naming the API URL", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  const client = createClient({ api: `http://127.0.0.1:${port}`, token: "x" });
  try {
    await rejectsWith(client.listVms(), "unavailable", new RegExp(`api http://127.0.0.1:${port}/`));
  } finally {
    client.close();
  }
});

Deno.test("--api must be an http(s) URL", () => {
  assert.throws(() => createClient({ api: "unix:/x" }), (e) => isVolantError(e, "usage"));
  assert.throws(() => createClient({ api: "not a url" }), (e) => isVolantError(e, "usage"));
});

Deno.test("a daemon that does not answer is 'unavailable' after the timeout", async () => {
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/slow.sock`;
  const never = Promise.withResolvers<void>();
  const server = Deno.serve({ transport: "unix", path: socket, onListen() {} }, async () => {
    await never.promise;
    return new Response("late");
  });
  const client = createClient({ socket });
  try {
    const res = client.transport.request({ path: "/api/v1/vms", timeoutMs: 200 });
    await rejectsWith(res, "unavailable", /did not answer GET \/api\/v1\/vms within 0\.2 s/);
  } finally {
    never.resolve();
    client.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
