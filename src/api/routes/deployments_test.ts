/**
 * The deployments API and `volar deployments` in process, over the real
 * services (VmService, supervisor, controller, SQLite) with the in-memory
 * hypervisor/network doubles of service/testing/fake_ports.ts (no QEMU here;
 * tests/e2e/deployments_test.ts boots real guests). About 3 s.
 */
import assert from "node:assert/strict";
import { run } from "../../cli/main.ts";
import { captureIo } from "../../cli/testing.ts";
import { serviceFixture, waitFor } from "../../service/testing/fixture.ts";
import { createApp } from "../app.ts";

async function setup() {
  const f = await serviceFixture({
    options: { deployments: { resyncMs: 200, backoffBaseMs: 50, stopGraceMs: 100 } },
  });
  const app = createApp({ services: f.services, auth: { token: "t".repeat(32) } });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: body ? { "content-type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    }, { transport: "unix" });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const vmNames = () =>
    f.store.vms.list({ limit: 1000, offset: 0, sort: "name", order: "asc" })
      .items.map((v) => v.name);
  return { f, app, call, vmNames };
}

const CONFIG = { plugin: "web", resources: { cpu_cores: 1, memory_mb: 128 } };

Deno.test("deployments API: create, show, loose-VM edits refused (409), crash replaced, delete", async () => {
  const { f, call, vmNames } = await setup();
  try {
    const created = await call("POST", "/api/v1/deployments", {
      name: "site",
      replicas: 3,
      config: CONFIG,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.replicas, 3);
    await waitFor(() => vmNames().length === 3, 5000, "3 replicas");
    assert.deepEqual(vmNames(), ["site-1", "site-2", "site-3"]);
    await waitFor(() => f.store.vms.inStates(["running"]).length === 3, 5000, "running");

    const shown = await call("GET", "/api/v1/deployments/site");
    assert.equal(shown.status, 200);
    assert.equal(shown.body.replica_status.length, 3);
    assert.equal(new Set(shown.body.replica_status.map((r: { ip: string }) => r.ip)).size, 3);

    for (
      const [method, path, body] of [
        ["POST", "/api/v1/vms/site-2/stop"],
        ["DELETE", "/api/v1/vms/site-2"],
        ["PATCH", "/api/v1/vms/site-2/config", { restart_policy: "always" }],
      ] as const
    ) {
      const r = await call(method, path, body);
      assert.equal(r.status, 409, `${method} ${path}`);
      assert.match(r.body.detail, /replica of deployment site/);
    }
    assert.equal((await call("GET", "/api/v1/vms/site-2")).status, 200);

    // The VMM of site-2 dies: the supervisor records the crash, the controller replaces it.
    const before = f.store.vms.get("site-2")!.id;
    f.hv.crash("site-2");
    await waitFor(
      () => {
        const vm = f.store.vms.get("site-2");
        return vm !== undefined && vm.id !== before && vm.state === "running";
      },
      5000,
      "site-2 replaced",
    );

    const del = await call("DELETE", "/api/v1/deployments/site");
    assert.equal(del.status, 202);
    await waitFor(() => f.store.deployments.get("site") === undefined, 5000, "deployment gone");
    assert.deepEqual(vmNames(), []);
    assert.equal(f.store.leases.count(), 0);
    const types = f.services.events.list({ filter: { types: ["deployment.*"] } }).map((e) =>
      e.type
    );
    assert.deepEqual(
      [...new Set(types)],
      ["deployment.created", "deployment.replica_replaced", "deployment.deleted"],
    );
  } finally {
    await f.close();
  }
});

Deno.test("deployments API: bad input is one 400 naming the field, nothing created", async () => {
  const { f, call, vmNames } = await setup();
  try {
    const cases: [unknown, string, number][] = [
      [{ name: "x", replicas: -1, config: CONFIG }, "replicas", 400],
      [{ name: "x", replicas: 10_000_000, config: CONFIG }, "replicas", 400],
      [{ name: "x", replicas: 1, config: { plugin: "caddy" } }, "config.plugin", 404],
      [{ name: "x", replicas: 1, config: { ...CONFIG, color: "blue" } }, "config.color", 400],
    ];
    for (const [body, field, status] of cases) {
      const r = await call("POST", "/api/v1/deployments", body);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.deepEqual(r.body.problems.map((p: { field: string }) => p.field), [field]);
    }
    assert.equal((await call("GET", "/api/v1/deployments")).body.items.length, 0);
    assert.deepEqual(vmNames(), []);
  } finally {
    await f.close();
  }
});

Deno.test("volar deployments: create --config --replicas --wait, scale, update, rollback, list, show, delete", async () => {
  const { f, app } = await setup();
  const socket = `${f.dir}/api.sock`;
  const server = Deno.serve(
    { transport: "unix", path: socket, onListen() {} },
    (req) => app.fetch(req, { transport: "unix" }),
  );
  const volar = async (...args: string[]) => {
    const cap = captureIo();
    const code = await run(["--socket", socket, ...args], cap.io);
    return { code, out: cap.stdout(), err: cap.stderr() };
  };
  try {
    const file = `${f.dir}/web-config.json`;
    await Deno.writeTextFile(file, JSON.stringify(CONFIG));
    let r = await volar(
      "deployments",
      "create",
      "web-cluster",
      "--config",
      file,
      "--replicas",
      "2",
      "--wait",
      "--timeout",
      "20",
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /web-cluster: 2\/2 ready/);
    assert.match(r.out, /deployment web-cluster created: 2\/2 ready, revision 1/);

    r = await volar(
      "deployments",
      "scale",
      "web-cluster",
      "--replicas",
      "3",
      "--wait",
      "-o",
      "json",
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).ready, 3);

    r = await volar(
      "deployments",
      "update",
      "web-cluster",
      "--config",
      file,
      "--memory",
      "192",
      "--wait",
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /revision 2/);
    assert.ok(
      f.store.vms.list({ limit: 10, offset: 0, sort: "name", order: "asc" }).items
        .every((v) => v.memory_mb === 192),
    );

    r = await volar("deployments", "rollback", "web-cluster", "--wait", "-o", "json");
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).revision, 3);

    r = await volar("deployments", "list");
    assert.match(r.out, /^NAME\s+PLUGIN\s+REPLICAS/);
    assert.match(r.out, /web-cluster\s+web\s+3\s+3/);
    r = await volar("deployments", "show", "web-cluster");
    assert.match(r.out, /web-cluster-1\s+running/);
    assert.match(r.out, /Available\s+yes/);

    r = await volar("deployments", "create", "bad", "--plugin", "web", "--replicas=-1");
    assert.equal(r.code, 2);
    assert.equal(r.err.trim().split("\n").length, 1, r.err);
    assert.match(r.err, /--replicas/);

    r = await volar("vms", "stop", "web-cluster-1");
    assert.equal(r.code, 4);
    assert.match(r.err, /replica of deployment web-cluster/);

    r = await volar("deployments", "delete", "web-cluster", "--wait");
    assert.equal(r.code, 0, r.err);
    assert.equal(f.store.vms.list({ limit: 10, offset: 0, sort: "name", order: "asc" }).total, 0);
  } finally {
    await server.shutdown();
    await f.close();
  }
});
