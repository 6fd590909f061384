/**
 * The controller over the real services (VmService, IPAM, supervisor, SQLite)
 * with only the hypervisor and host network faked (service/testing/
 * fake_ports.ts): the address pool running out and a disabled plugin surface
 * as conditions with a reason, with backoff, and clear once capacity is back;
 * a restarted daemon adopts the replicas it finds. About 2 s.
 */
import assert from "node:assert/strict";
import { serviceFixture, waitFor } from "../testing/fixture.ts";

async function until(pred: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const CONFIG = { plugin: "web", resources: { cpu_cores: 1, memory_mb: 128 } };

Deno.test("deployments over real services: pool exhausted, plugin disabled, then converged", async () => {
  const f = await serviceFixture({
    options: {
      // Three addresses in the pool.
      pool: { start: "192.168.127.10", end: "192.168.127.12" },
      deployments: { resyncMs: 100, backoffBaseMs: 100, backoffMaxMs: 400, stopGraceMs: 50 },
    },
  });
  try {
    const { deployments, plugins, events } = f.services;
    await deployments.create({ name: "site", replicas: 4, config: CONFIG });
    const condition = async (type: string) =>
      (await deployments.get("site")).conditions.find((c) => c.type === type);
    const reason = async () => (await condition("ReplicaFailure"))?.reason;
    await until(async () => await reason() === "PoolExhausted", 5000, "PoolExhausted");
    const d = await deployments.get("site");
    assert.equal(d.current, 3);
    assert.match((await condition("ReplicaFailure"))!.message, /site-4.*exhausted/);
    // Backoff (100 ms doubling to 400 ms): a handful of attempts in a second, not a hot loop.
    const attempt = async () =>
      Number(/attempt (\d+)/.exec((await condition("ReplicaFailure"))!.message)![1]);
    const a0 = await attempt();
    await new Promise((r) => setTimeout(r, 1000));
    const a1 = await attempt();
    assert.ok(a1 - a0 >= 1 && a1 - a0 <= 5, `attempts ${a0} -> ${a1}`);
    assert.equal(events.list({ filter: { types: ["vm.created"], resource: "site-4" } }).length, 0);
    assert.equal(f.store.leases.count(), 3);

    // Plugin disabled: scale within the pool is fine, replacement of a crashed one is not.
    await deployments.patch("site", { replicas: 3 });
    await waitFor(() => f.hv.running.size === 3, 5000, "3 running");
    plugins.setEnabled("web", false);
    f.hv.crash("site-2");
    await until(async () => await reason() === "PluginDisabled", 5000, "PluginDisabled");
    assert.equal((await deployments.get("site")).ready, 2);

    plugins.setEnabled("web", true);
    await waitFor(() => f.hv.running.size === 3, 5000, "site-2 back");
    await until(async () => await reason() === undefined, 5000, "condition cleared");

    // A daemon restart: the replicas are adopted, nothing is created twice.
    const created = events.list({ filter: { types: ["vm.created"] } }).length;
    const again = await f.reopen();
    await new Promise((r) => setTimeout(r, 500));
    const d2 = await again.deployments.get("site");
    assert.equal(d2.ready, 3);
    assert.equal(events.list({ filter: { types: ["vm.created"] } }).length, created);
    assert.equal(f.store.leases.count(), 3);
  } finally {
    await f.close();
  }
});
