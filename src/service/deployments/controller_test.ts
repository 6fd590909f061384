/**
 * The controller against in-memory VMs (testing.ts) and a manual clock, over
 * a real SQLite store: scaling, self-healing, rolling updates, failed
 * rollouts, backoff, restart adoption, delete. Fast (well under a second).
 */
import assert from "node:assert/strict";
import { VolantError } from "../../errors.ts";
import type { EventType } from "../../manifest/api.ts";
import { silentLogger } from "../../log/mod.ts";
import { openStore, type SqliteStore } from "../../store/mod.ts";
import { pluginRecord } from "../testing/fixture.ts";
import { DeploymentController } from "./controller.ts";
import { DeploymentService } from "./service.ts";
import { FakeProbe, FakeVms, ManualClock } from "./testing.ts";

interface Seen {
  type: EventType;
  resource: string;
  data: Record<string, unknown>;
}

async function setup(vms = new FakeVms(), parked?: Set<string>) {
  const dir = await Deno.makeTempDir({ prefix: "volant-deploy-" });
  const store: SqliteStore = openStore({ stateDir: dir });
  store.plugins.put(pluginRecord(`${dir}/rootfs.img`, "caddy"));
  const clock = new ManualClock();
  const probe = new FakeProbe();
  const seen: Seen[] = [];
  const events = {
    publish(type: EventType, _rt: string, resource: string, data: Record<string, unknown> = {}) {
      seen.push({ type, resource, data });
      return {
        id: seen.length,
        type,
        resource_type: "deployment" as const,
        resource,
        time: "",
        data,
      };
    },
  };
  const make = () =>
    new DeploymentController({
      store,
      vms,
      events,
      vmEvents: { follow: (fn) => vms.onEvent(fn) },
      probe,
      parked: parked ? (vm) => Promise.resolve(parked.has(vm)) : undefined,
      clock,
      log: silentLogger,
      options: { resyncMs: 5000, unhealthyAfterMs: 30_000, rolloutFailureLimit: 2 },
    });
  let controller = make();
  const service = () =>
    new DeploymentService({
      store,
      vms,
      events,
      controller,
      now: () => new Date(clock.now()),
    });
  controller.start();
  return {
    store,
    vms,
    clock,
    probe,
    seen,
    get controller() {
      return controller;
    },
    get svc() {
      return service();
    },
    /** A daemon restart: a new controller over the same store and VMs. */
    async restart() {
      await controller.stop();
      controller = make();
      controller.start();
      await controller.settle();
    },
    settle: () => controller.settle(),
    names: () => [...vms.vms.keys()].sort(),
    async close() {
      await controller.stop();
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const CONFIG = { plugin: "caddy", resources: { cpu_cores: 1, memory_mb: 128 } };

Deno.test("controller: create 3, scale 3 -> 1 -> 2 (highest go, lowest free come back, IPs freed)", async () => {
  const t = await setup();
  try {
    await t.svc.create({ name: "web", replicas: 3, config: CONFIG });
    await t.settle();
    assert.deepEqual(t.names(), ["web-1", "web-2", "web-3"]);
    const d = await t.svc.get("web");
    assert.equal(d.ready, 3);
    assert.equal(d.rollout, "complete");
    assert.equal(new Set(d.replica_status.map((r) => r.ip)).size, 3);
    assert.ok(d.conditions.some((c) => c.type === "Available" && c.status));
    const ip3 = t.vms.find("web-3")!.ip;

    await t.svc.patch("web", { replicas: 1 });
    await t.settle();
    assert.deepEqual(t.names(), ["web-1"]);
    assert.ok(!t.vms.leased().includes(ip3), "web-3's address is free again");

    await t.svc.patch("web", { replicas: 2 });
    await t.settle();
    assert.deepEqual(t.names(), ["web-1", "web-2"]);
    assert.deepEqual(
      t.seen.filter((e) => e.type === "deployment.scaled").map((e) => e.data),
      [{ from: 3, to: 1 }, { from: 1, to: 2 }],
    );
  } finally {
    await t.close();
  }
});

Deno.test("controller: crashed, vanished and long-unhealthy replicas are replaced", async () => {
  const t = await setup();
  try {
    await t.svc.create({ name: "web", replicas: 3, config: CONFIG });
    await t.settle();
    const id2 = t.vms.find("web-2")!.id;
    t.vms.set("web-2", "crashed");
    await t.settle();
    assert.deepEqual(t.names(), ["web-1", "web-2", "web-3"]);
    assert.notEqual(t.vms.find("web-2")!.id, id2, "a new VM under the same name");

    t.vms.vanish("web-3");
    await t.settle();
    assert.deepEqual(t.names(), ["web-1", "web-2", "web-3"]);

    // Probes of web-1 fail: pending (not ready) at once, replaced after 30 s.
    const ip1 = t.vms.find("web-1")!.ip;
    const id1 = t.vms.find("web-1")!.id;
    t.probe.failing.add(ip1);
    t.clock.advance(5000);
    await t.settle();
    assert.equal((await t.svc.get("web")).ready, 2);
    assert.equal(t.vms.find("web-1")!.id, id1, "not replaced before the threshold");
    t.probe.failing.delete(ip1);
    t.probe.failing.add(ip1);
    t.clock.advance(30_000);
    await t.settle();
    assert.notEqual(t.vms.find("web-1")!.id, id1, "replaced after the threshold");

    const replaced = t.seen.filter((e) => e.type === "deployment.replica_replaced")
      .map((e) => `${e.data.replica}:${e.data.reason}`);
    assert.deepEqual(replaced, ["web-2:crashed", "web-3:missing", "web-1:unhealthy"]);
  } finally {
    await t.close();
  }
});

Deno.test("controller: a rolling update keeps replicas - max_unavailable ready; rollback", async () => {
  const t = await setup();
  try {
    await t.svc.create({ name: "web", replicas: 3, config: CONFIG });
    await t.settle();
    t.vms.bootHealth = "starting";
    await t.svc.patch("web", { config: { ...CONFIG, env: { GREETING: "v2" } } });
    let minReady = Infinity;
    let maxTotal = 0;
    for (let step = 0; step < 20; step++) {
      await t.settle();
      const d = await t.svc.get("web");
      minReady = Math.min(minReady, d.ready);
      maxTotal = Math.max(maxTotal, t.vms.vms.size);
      if (d.rollout === "complete") break;
      // One booting replica at a time (max_surge 1); it turns healthy.
      const booting = [...t.vms.vms.values()].filter((v) => v.health === "starting");
      assert.equal(booting.length, 1);
      t.vms.set(booting[0].name, "running", "healthy");
    }
    const d = await t.svc.get("web");
    assert.equal(d.rollout, "complete");
    assert.equal(d.updated, 3);
    assert.equal(d.stable_revision, 2);
    assert.equal(minReady, 3);
    assert.equal(maxTotal, 4);
    assert.equal(t.vms.env.size, 3, "every new replica got the env");
    assert.ok(t.seen.some((e) => e.type === "deployment.rolled_out"));

    // Rollback: revision 3 = revision 1's config, rolled the same way.
    t.vms.bootHealth = "healthy";
    const rb = await t.svc.rollback("web");
    assert.equal(rb.revision, 3);
    assert.deepEqual(rb.config, CONFIG);
    await t.settle();
    const after = await t.svc.get("web");
    assert.equal(after.rollout, "complete");
    assert.ok(after.replica_status.every((r) => r.revision === 3));
  } finally {
    await t.close();
  }
});

Deno.test("controller: a failed rollout stops with a condition and the old replicas keep serving", async () => {
  const t = await setup();
  try {
    await t.svc.create({ name: "web", replicas: 3, config: CONFIG });
    await t.settle();
    const old = t.names();
    t.vms.bootHealth = "starting";
    await t.svc.patch("web", { config: { ...CONFIG, kernel_cmdline: "broken=1" } });
    // Every new replica crashes while booting.
    for (let i = 0; i < 5; i++) {
      await t.settle();
      const booting = [...t.vms.vms.values()].filter((v) => v.health === "starting");
      if (booting.length === 0) break;
      t.vms.set(booting[0].name, "crashed");
    }
    await t.settle();
    const d = await t.svc.get("web");
    assert.equal(d.rollout, "failed");
    const cond = d.conditions.find((c) => c.type === "RolloutFailed");
    assert.ok(cond?.status, JSON.stringify(d.conditions));
    assert.match(cond!.message, /revision 2 failed .*crashed/);
    assert.deepEqual(t.names(), old, "the old replicas are untouched");
    assert.equal(d.ready, 3);
    assert.ok(t.seen.some((e) => e.type === "deployment.rollout_failed"));

    // Rollback to revision 1's config: the old replicas count as current, nothing rolls.
    const before = t.vms.calls.length;
    await t.svc.rollback("web");
    await t.settle();
    const back = await t.svc.get("web");
    assert.equal(back.rollout, "complete");
    assert.deepEqual(t.names(), old);
    assert.deepEqual(t.vms.calls.slice(before), [], "no VM was touched");
  } finally {
    await t.close();
  }
});

Deno.test("controller: pool exhausted / plugin disabled -> condition with reason, backoff, no hot loop", async () => {
  const t = await setup(new FakeVms(2));
  try {
    await t.svc.create({ name: "web", replicas: 3, config: CONFIG });
    await t.settle();
    assert.deepEqual(t.names(), ["web-1", "web-2"]);
    let d = await t.svc.get("web");
    const cond = d.conditions.find((c) => c.type === "ReplicaFailure");
    assert.equal(cond?.reason, "PoolExhausted");
    assert.match(cond!.message, /web-3.*exhausted/);
    const attempts = () => t.vms.calls.filter((c) => c === "create web-3").length;
    assert.equal(attempts(), 1);
    // Events and resyncs within the backoff do not retry.
    t.vms.set("web-1", "running", "healthy");
    await t.settle();
    assert.equal(attempts(), 1);
    t.clock.advance(1000);
    await t.settle();
    assert.equal(attempts(), 2);
    t.clock.advance(1000);
    await t.settle();
    assert.equal(attempts(), 2, "second delay is 2 s");
    t.clock.advance(1000);
    await t.settle();
    assert.equal(attempts(), 3);

    // Plugin disabled: same path, its own reason.
    t.vms.failCreate = new VolantError("conflict", "plugin caddy is disabled", {
      problems: [{ field: "plugin", message: "plugin caddy is disabled" }],
    });
    t.clock.advance(4000);
    await t.settle();
    d = await t.svc.get("web");
    assert.equal(d.conditions.find((c) => c.type === "ReplicaFailure")?.reason, "PluginDisabled");

    // Capacity comes back: converges and the condition clears.
    t.vms.failCreate = null;
    await t.svc.patch("web", { replicas: 2 });
    await t.settle();
    d = await t.svc.get("web");
    t.clock.advance(60_000);
    await t.settle();
    d = await t.svc.get("web");
    assert.equal(d.rollout, "complete");
    assert.ok(!d.conditions.some((c) => c.type === "ReplicaFailure"), JSON.stringify(d.conditions));
  } finally {
    await t.close();
  }
});

Deno.test("controller: after a restart it adopts and converges without duplicates", async () => {
  const t = await setup();
  try {
    await t.svc.create({ name: "web", replicas: 2, config: CONFIG });
    await t.settle();
    // A crash mid scale-up: web-3's row written, its VM never made; web-4's VM
    // made but never started.
    const d = t.store.deployments.get("web")!;
    t.store.deployments.update("web", { replicas: 4 }, new Date().toISOString());
    t.store.deployments.addReplica(
      { vm: "web-3", deployment_id: d.id, ordinal: 3, revision: 1 },
      "",
    );
    t.store.deployments.addReplica(
      { vm: "web-4", deployment_id: d.id, ordinal: 4, revision: 1 },
      "",
    );
    await t.vms.create({ name: "web-4", plugin: "caddy", start: false });
    await t.restart();
    assert.deepEqual(t.names(), ["web-1", "web-2", "web-3", "web-4"]);
    assert.equal(t.store.deployments.replicas(d.id).length, 4);
    assert.equal(new Set(t.vms.leased()).size, 4);
    assert.equal((await t.svc.get("web")).ready, 4);
  } finally {
    await t.close();
  }
});

Deno.test("controller: delete removes every replica, then the deployment", async () => {
  const t = await setup();
  try {
    await t.svc.create({ name: "web", replicas: 3, config: CONFIG });
    await t.settle();
    const d = await t.svc.delete("web");
    assert.equal(d.rollout, "deleting");
    await t.settle();
    assert.deepEqual(t.names(), []);
    assert.equal(t.store.deployments.get("web"), undefined);
    assert.equal(t.vms.leased().length, 0);
    assert.ok(t.seen.some((e) => e.type === "deployment.deleted"));
  } finally {
    await t.close();
  }
});

Deno.test("service: bad input names the field and creates nothing", async () => {
  const t = await setup();
  try {
    const cases: [unknown, string][] = [
      [{ name: "web", replicas: -1, config: CONFIG }, "replicas"],
      [{ name: "web", replicas: 1_000_000, config: CONFIG }, "replicas"],
      [{ name: "web", replicas: 1, config: { plugin: "nope" } }, "config.plugin"],
      [{ name: "web", replicas: 1, config: { ...CONFIG, colour: "red" } }, "config.colour"],
      [
        { name: "web", replicas: 1, config: { ...CONFIG, resources: { memory_mb: 1 } } },
        "config.resources.memory_mb",
      ],
      [{ name: "Web!", replicas: 1, config: CONFIG }, "name"],
    ];
    for (const [body, field] of cases) {
      await assert.rejects(
        // deno-lint-ignore no-explicit-any
        () => t.svc.create(body as any),
        (e: unknown) => {
          assert.ok(e instanceof VolantError, String(e));
          assert.deepEqual(e.problems.map((p) => p.field), [field], e.message);
          return true;
        },
      );
    }
    await t.settle();
    assert.deepEqual(t.store.deployments.list(), []);
    assert.deepEqual(t.names(), []);
  } finally {
    await t.close();
  }
});

Deno.test("controller: with idle_timeout_s, replicas get it and a parked replica is kept as ready; a plainly stopped one is replaced", async () => {
  const parked = new Set<string>();
  const t = await setup(new FakeVms(), parked);
  try {
    await t.svc.create({ name: "web", replicas: 2, config: { ...CONFIG, idle_timeout_s: 30 } });
    await t.settle();
    assert.deepEqual(t.vms.bodies.map((b) => b.idle_timeout_s), [30, 30]);
    const id1 = t.vms.find("web-1")!.id;
    const id2 = t.vms.find("web-2")!.id;

    // Scale to zero parked web-1 (stopped, its idle snapshot kept); web-2 was stopped by hand.
    parked.add("web-1");
    t.vms.set("web-1", "stopped");
    t.vms.set("web-2", "stopped");
    await t.controller.resync();
    await t.settle();
    assert.equal(t.vms.find("web-1")!.id, id1, "the parked replica is not replaced");
    assert.notEqual(t.vms.find("web-2")!.id, id2, "the stopped one is");
    const d = await t.svc.get("web");
    assert.equal(d.ready, 2, "a parked replica counts as ready: its next request wakes it");
    assert.equal(d.replica_status.find((r) => r.name === "web-1")?.state, "stopped");
  } finally {
    await t.close();
  }
});

Deno.test("deployment config: idle_timeout_s out of range is refused naming the field", async () => {
  const t = await setup();
  try {
    await assert.rejects(
      t.svc.create({ name: "web", replicas: 1, config: { ...CONFIG, idle_timeout_s: 0 } }),
      (e: unknown) =>
        e instanceof VolantError && e.problems.some((p) => p.field === "config.idle_timeout_s"),
    );
  } finally {
    await t.close();
  }
});
