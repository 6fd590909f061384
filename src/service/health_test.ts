/**
 * Guest health through the real GuestClient over real HTTP: the VM's address
 * comes from a 127.0.0.0/8 pool, so "the guest" is a Deno.serve on that
 * loopback address (Linux routes all of 127/8 to lo).
 */
import assert from "node:assert/strict";
import { GuestClient } from "../guest/client.ts";
import { serviceFixture, until } from "./testing/fixture.ts";
import { ManualClock } from "./testing/manual_clock.ts";

Deno.test("a running VM becomes healthy once its agent answers /healthz, unhealthy on timeout", async () => {
  let ok = false;
  const clock = new ManualClock(); // the poll's interval and timeout run on it
  const agent = Deno.serve(
    { hostname: "127.0.0.2", port: 0, onListen() {} },
    (req) =>
      new URL(req.url).pathname === "/healthz" && ok
        ? new Response("ok")
        : new Response("booting", { status: 503 }),
  );
  const f = await serviceFixture({
    options: {
      subnet: "127.0.0.0/8",
      pool: { start: "127.0.0.2" },
      health: { timeoutMs: 1500, intervalMs: 30 },
    },
    deps: { guest: new GuestClient({ port: agent.addr.port, timeoutMs: 300 }), clock },
  });
  const events = f.services.events;
  try {
    const vm = await f.services.vms.create({ name: "h", plugin: "web" });
    assert.equal(vm.ip, "127.0.0.2");
    assert.equal(vm.health, "starting");
    await clock.waitForTimers(1); // probed once (503), now waiting for the next interval
    assert.equal(f.services.vms.get("h").health, "starting");
    ok = true;
    clock.advance(30);
    await until(events, () => f.services.vms.get("h").health === "healthy", 3000, "healthy");
    const ev = f.services.events.list({ filter: { types: ["vm.healthy"] } });
    assert.equal(ev.length, 1);
    assert.ok((ev[0].data.attempts as number) > 1);

    ok = false;
    await f.services.vms.create({ name: "u", plugin: "web" }); // 127.0.0.3: nothing listens
    await clock.waitForTimers(1); // probed once (refused)
    clock.advance(1500); // past the timeout: the next probe is the last
    await until(events, () => f.services.vms.get("u").health === "unhealthy", 4000, "unhealthy");
    const bad = f.services.events.list({ filter: { types: ["vm.unhealthy"], resource: "u" } });
    assert.equal(bad.length, 1);
    assert.ok(typeof bad[0].data.detail === "string");
  } finally {
    await f.close();
    await agent.shutdown();
  }
});
