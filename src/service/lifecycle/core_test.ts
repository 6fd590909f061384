/**
 * The lifecycle core over real SQLite and the real event bus (the VM rows
 * come from the service fixture; hypervisor and network are its in-memory
 * doubles, see testing/fake_ports.ts).
 */
import assert from "node:assert/strict";
import { isVolantError } from "../../errors.ts";
import { silentLogger } from "../../log/mod.ts";
import { VmEventData, type VmEventType } from "../../manifest/vm_events.ts";
import type { ServiceContext } from "../context.ts";
import type { EventBus } from "../events.ts";
import { systemResolve } from "../guarded_fetch.ts";
import { resolveOptions } from "../options.ts";
import { serviceFixture, until } from "../testing/fixture.ts";
import { systemClock } from "./clock.ts";
import { LifecycleCore } from "./core.ts";

async function coreFixture() {
  const f = await serviceFixture();
  const ctx: ServiceContext = {
    store: f.store,
    events: f.services.events as EventBus,
    options: resolveOptions(f.options),
    hypervisor: f.hv,
    network: f.net,
    fetch: globalThis.fetch,
    resolve: systemResolve,
    log: silentLogger,
    now: () => new Date(),
    clock: systemClock,
  };
  return { f, core: new LifecycleCore(ctx) };
}

Deno.test("transition: the state machine is checked before anything is written or published", async () => {
  const { f, core } = await coreFixture();
  try {
    await f.services.vms.create({ name: "a", plugin: "web", start: false });
    const before = f.services.events.lastId();
    assert.throws(
      () =>
        core.transition("a", "running", { type: "vm.adopted", data: { pid: 1, was: "created" } }),
      (e) => isVolantError(e, "conflict") && /cannot go from created to running/.test(e.message),
    );
    assert.equal(core.row("a").state, "created");
    assert.equal(f.services.events.lastId(), before, "no event for a refused change");
    // Bad event data is refused before the row is touched, too.
    assert.throws(() =>
      core.transition("a", "starting", { type: "vm.starting", data: { automatic: "no" } as never })
    );
    assert.equal(core.row("a").state, "created");
  } finally {
    await f.close();
  }
});

Deno.test("transition: settling clears pid, serial socket and health once, and untracks the VMM", async () => {
  const { f, core } = await coreFixture();
  try {
    await f.services.vms.create({ name: "b", plugin: "web", start: false });
    core.transition("b", "starting", {
      type: "vm.starting",
      data: { automatic: false, attempt: 0 },
    });
    const proc = {
      name: "b",
      pid: 4242,
      startTime: "1",
      runtimeDir: "/x",
      serialSocket: "/x/s",
      serialLog: "/x/l",
    };
    core.track("b", proc);
    const running = core.transition("b", "running", undefined, {
      pid: 4242,
      pid_start_time: "1",
      serial_socket: "/x/s",
      health: "starting",
    });
    assert.equal(running.pid, 4242);
    const crashed = core.transition("b", "crashed", {
      type: "vm.crashed",
      data: { cause: "exit", code: 1, signal: null, pid: 4242 },
    }, { last_error: "boom" });
    assert.equal(crashed.pid, undefined);
    assert.equal(crashed.serial_socket, undefined);
    assert.equal(crashed.health, "unknown");
    assert.equal(crashed.last_error, "boom");
    assert.equal(core.process("b"), undefined);
    const last = f.services.events.list({ filter: { resource: "b" } }).at(-1)!;
    assert.equal(last.type, "vm.crashed");
    assert.deepEqual(last.data, { cause: "exit", code: 1, signal: null, pid: 4242 });
  } finally {
    await f.close();
  }
});

Deno.test("operations refuse to run without the VM's lock", async () => {
  const { f, core } = await coreFixture();
  try {
    assert.throws(() => core.assertLocked("c"), (e) => isVolantError(e, "internal"));
    await core.locked("c", () => Promise.resolve(core.assertLocked("c")));
  } finally {
    await f.close();
  }
});

Deno.test("every vm.* event of a whole lifecycle matches its one schema", async () => {
  const f = await serviceFixture({ options: { restart: { baseDelayMs: 1, maxDelayMs: 2 } } });
  try {
    const vms = f.services.vms;
    await vms.create({ name: "l", plugin: "web", restart_policy: "on-failure" });
    await vms.patchConfig("l", { metadata: { a: "1" } });
    await vms.stop("l");
    await vms.start("l");
    await vms.restart("l");
    const pid = vms.get("l").pid;
    f.hv.crash("l", 1);
    await until(
      f.services.events,
      () => vms.get("l").state === "running" && vms.get("l").pid !== pid,
    );
    f.hv.crash("l", 0); // a clean power-off: stopped, no restart
    await until(f.services.events, () => vms.get("l").state === "stopped");
    f.hv.failBoot = new Error("no disk");
    await assert.rejects(vms.start("l"), /no disk/);
    await vms.start("l");
    await vms.delete("l");
    const seen = new Set<string>();
    for (const e of f.services.events.list({ filter: { types: ["vm.*"] }, limit: 10_000 })) {
      const schema = VmEventData[e.type as VmEventType];
      assert.ok(schema, `${e.type} has a schema`);
      schema.strict().parse(e.data);
      seen.add(e.type);
    }
    for (
      const t of [
        "vm.created",
        "vm.starting",
        "vm.started",
        "vm.running",
        "vm.stopping",
        "vm.stopped",
        "vm.crashed",
        "vm.restarting",
        "vm.config_updated",
        "vm.failed",
        "vm.deleted",
      ]
    ) assert.ok(seen.has(t), `${t} was published`);
  } finally {
    await f.close();
  }
});
