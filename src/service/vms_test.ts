/**
 * VM lifecycle over real SQLite with in-memory doubles of the Hypervisor and
 * HostNetwork ports (see testing/fake_ports.ts).
 */
import assert from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import { parseCmdline } from "../manifest/mod.ts";
import { createServices } from "./mod.ts";
import { serviceFixture, until } from "./testing/fixture.ts";
import { ManualClock } from "./testing/manual_clock.ts";

const types = (f: { services: { events: { list(o: object): { type: string }[] } } }) =>
  f.services.events.list({ limit: 10_000 }).map((e) => e.type);

Deno.test("create boots the VM: lease, MAC, TAP, spec (disks, cmdline), events", async () => {
  const f = await serviceFixture();
  try {
    const vm = await f.services.vms.create({ name: "web-1", plugin: "web" });
    assert.equal(vm.state, "running");
    assert.equal(vm.ip, "192.168.127.100");
    assert.match(vm.mac, /^02(:[0-9a-f]{2}){5}$/);
    assert.equal(vm.tap, `vtap${vm.id}`);
    assert.equal(vm.cpu_cores, 2, "defaults from the manifest resources");
    assert.equal(vm.memory_mb, 256);
    assert.deepEqual(vm.resources, { cpu_cores: 2, memory_mb: 256 }, "Volant's answer shape");
    assert.ok(vm.pid && vm.pid > 1000);
    assert.ok(f.net.taps.has(vm.tap));
    const spec = f.hv.specs[0];
    assert.deepEqual(spec.disks.map((d) => [d.id, d.readonly]), [["agent", true], [
      "rootfs",
      false,
    ]]);
    assert.equal(spec.disks[1].backingImage, `${f.dir}/rootfs.img`);
    assert.equal(
      spec.initramfs,
      `${f.dir}/boot.cpio.gz`,
      "rootfs-only plugin boots the shared initramfs",
    );
    assert.deepEqual(spec.net, { tap: vm.tap, mac: vm.mac });
    const args = parseCmdline(spec.cmdline);
    assert.ok(spec.cmdline.startsWith("console=ttyS0 panic=-1 reboot=t tsc_early_khz=3000000 "));
    assert.equal(args.get("volant.ip"), "192.168.127.100/24");
    assert.equal(args.get("volant.gw"), "192.168.127.1");
    assert.equal(args.get("volant.rootfs_device"), "vdb");
    assert.equal(args.get("volant.agent_device"), "vda");
    assert.equal(args.get("volant.boot"), "rootfs");
    assert.match(args.get("volant.run") ?? "", /^[\w-]+$/, "workload first: the shim gets it");
    assert.deepEqual(types(f), ["vm.created", "vm.starting", "vm.started", "vm.running"]);
    const second = await f.services.vms.create({
      name: "web-2",
      plugin: "web",
      cpu_cores: 1,
      start: false,
    });
    assert.equal(second.state, "created");
    assert.equal(second.ip, "192.168.127.101");
    assert.equal(second.cpu_cores, 1);
  } finally {
    await f.close();
  }
});

Deno.test("bad create input names the field; unknown/disabled plugin; duplicate name", async () => {
  const f = await serviceFixture();
  try {
    await assert.rejects(
      f.services.vms.create({ name: "Bad_Name", plugin: "web" }),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "name",
    );
    await assert.rejects(
      f.services.vms.create({ name: "a", plugin: "nope" }),
      (e) => isVolantError(e, "not_found") && e.problems[0].field === "plugin",
    );
    await assert.rejects(
      f.services.vms.create({ name: "a", plugin: "web", kernel_cmdline: "volant.manifest=x" }),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "kernel_cmdline",
    );
    await f.services.vms.create({ name: "a", plugin: "web", start: false });
    await assert.rejects(
      f.services.vms.create({ name: "a", plugin: "web" }),
      (e) => isVolantError(e, "conflict") && /already exists/.test(e.message),
    );
    f.services.plugins.setEnabled("web", false);
    await assert.rejects(
      f.services.vms.create({ name: "b", plugin: "web" }),
      (e) => isVolantError(e, "conflict") && /disabled/.test(e.message),
    );
  } finally {
    await f.close();
  }
});

Deno.test("without a hypervisor, start answers 503 naming it and changes nothing", async () => {
  const dir = await Deno.makeTempDir();
  const f = await serviceFixture();
  try {
    const services = createServices({ store: f.store, options: { stateDir: `${dir}/s` } });
    await assert.rejects(
      services.vms.create({ name: "x", plugin: "web" }),
      (e) => isVolantError(e, "unavailable") && /no hypervisor driver/.test(e.message),
    );
    assert.equal(f.store.vms.get("x"), undefined, "a create that cannot boot leaves no row");
    assert.equal(f.store.leases.count(), 0);
    await services.vms.create({ name: "y", plugin: "web", start: false });
    await assert.rejects(services.vms.start("y"), (e) => isVolantError(e, "unavailable"));
    assert.equal(services.vms.get("y").state, "created");
    await services.close();
  } finally {
    await f.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("missing kernel is a 503 naming the path; unusable driver names its reason", async () => {
  const f = await serviceFixture({ options: { kernel: "/nonexistent/vmlinux" } });
  try {
    await f.services.vms.create({ name: "k", plugin: "web", start: false });
    await assert.rejects(
      f.services.vms.start("k"),
      (e) => isVolantError(e, "unavailable") && e.message.includes("/nonexistent/vmlinux"),
    );
    assert.equal(f.net.taps.size, 0);
  } finally {
    await f.close();
  }
  const g = await serviceFixture();
  try {
    g.hv.unavailableReason = "qemu-system-x86_64 not found";
    await g.services.vms.create({ name: "k", plugin: "web", start: false });
    await assert.rejects(g.services.vms.start("k"), /qemu-system-x86_64 not found/);
    assert.equal(g.services.vms.get("k").state, "created");
  } finally {
    await g.close();
  }
});

Deno.test("state machine: stop, start again, start twice is 409, restart", async () => {
  const f = await serviceFixture();
  try {
    const vm = await f.services.vms.create({ name: "s", plugin: "web" });
    await assert.rejects(
      f.services.vms.start("s"),
      (e) => isVolantError(e, "conflict") && /it is running/.test(e.message),
    );
    const stopped = await f.services.vms.stop("s", { graceMs: 1234 });
    assert.equal(stopped.state, "stopped");
    assert.equal(stopped.pid, undefined);
    assert.ok(f.hv.calls.includes("shutdown s 1234"));
    assert.ok(!f.net.taps.has(vm.tap));
    assert.equal((await f.services.vms.stop("s")).state, "stopped", "stop is idempotent");
    assert.equal(f.services.vms.get("s").ip, vm.ip, "the lease is kept across stop");
    const again = await f.services.vms.start("s");
    assert.equal(again.state, "running");
    assert.notEqual(again.pid, vm.pid);
    const restarted = await f.services.vms.restart("s");
    assert.equal(restarted.state, "running");
    assert.notEqual(restarted.pid, again.pid);
    // Two concurrent starts of a stopped VM: one wins, the other sees `running`.
    await f.services.vms.stop("s");
    const results = await Promise.allSettled([
      f.services.vms.start("s"),
      f.services.vms.start("s"),
    ]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    assert.equal(f.hv.running.size, 1);
  } finally {
    await f.close();
  }
});

Deno.test("a failed boot rolls back: TAP deleted, state stopped with the reason, no VMM", async () => {
  const f = await serviceFixture();
  try {
    await f.services.vms.create({ name: "f", plugin: "web", start: false });
    f.hv.failBoot = new Error("qemu: could not open disk");
    await assert.rejects(f.services.vms.start("f"), /could not open disk/);
    const vm = f.services.vms.get("f");
    assert.equal(vm.state, "stopped");
    assert.match(vm.last_error ?? "", /could not open disk/);
    assert.equal(f.net.taps.size, 0);
    assert.equal(f.hv.running.size, 0);
    assert.ok(types(f).includes("vm.failed"));
    // A create whose boot fails leaves nothing: no row, no lease, no tap.
    f.hv.failPrepare = new Error("overlay: no space");
    await assert.rejects(f.services.vms.create({ name: "g", plugin: "web" }), /no space/);
    assert.equal(f.store.vms.get("g"), undefined);
    assert.equal(f.store.leases.count(), 1);
    assert.ok(f.hv.calls.includes("destroy g"));
  } finally {
    await f.close();
  }
});

Deno.test("delete stops, destroys, releases the lease; the address is reused", async () => {
  const f = await serviceFixture();
  try {
    const a = await f.services.vms.create({ name: "a", plugin: "web" });
    await f.services.vms.delete("a");
    assert.throws(() => f.services.vms.get("a"), (e) => isVolantError(e, "not_found"));
    assert.equal(f.store.leases.count(), 0);
    assert.equal(f.net.taps.size, 0);
    assert.deepEqual(
      f.hv.calls.filter((c) => c.split(" ")[1] === "a").map((c) => c.split(" ")[0]),
      ["prepare", "boot", "shutdown", "destroy"],
    );
    assert.ok(f.hv.calls.some((c) => c.startsWith("shutdown a")));
    const b = await f.services.vms.create({ name: "b", plugin: "web" });
    assert.equal(b.ip, a.ip);
    assert.deepEqual(types(f).filter((t) => t === "vm.deleted"), ["vm.deleted"]);
    await assert.rejects(f.services.vms.delete("a"), (e) => isVolantError(e, "not_found"));
  } finally {
    await f.close();
  }
});

Deno.test("100 concurrent creates get 100 distinct addresses; exhaustion names the pool", async () => {
  const f = await serviceFixture({
    options: { subnet: "10.20.0.0/25", pool: { start: "10.20.0.2" } },
  }); // .2 .. .126 = 125
  try {
    const made = await Promise.all(
      Array.from(
        { length: 100 },
        (_, i) => f.services.vms.create({ name: `c${i}`, plugin: "web", start: i % 2 === 0 }),
      ),
    );
    const ips = new Set(made.map((v) => v.ip));
    assert.equal(ips.size, 100);
    const rows = f.services.vms.list({ limit: 1000, offset: 0, sort: "ip", order: "asc" });
    assert.equal(rows.total, 100);
    assert.equal(rows.items[0].ip, "10.20.0.2");
    assert.equal(rows.items[99].ip, "10.20.0.101");
    await Promise.all(
      Array.from(
        { length: 25 },
        (_, i) => f.services.vms.create({ name: `d${i}`, plugin: "web", start: false }),
      ),
    );
    await assert.rejects(
      f.services.vms.create({ name: "overflow", plugin: "web", start: false }),
      (e) => isVolantError(e, "exhausted") && /10\.20\.0\.2-10\.20\.0\.126/.test(e.message),
    );
    assert.equal(f.store.vms.get("overflow"), undefined);
  } finally {
    await f.close();
  }
});

Deno.test("crash: crashed + vm.crashed; on-failure restarts with backoff up to the cap", async () => {
  const clock = new ManualClock();
  const f = await serviceFixture({
    options: { restart: { maxRestarts: 2, baseDelayMs: 5, windowMs: 60_000 } },
    deps: { clock },
  });
  const events = f.services.events;
  try {
    await f.services.vms.create({ name: "never", plugin: "web" });
    f.hv.crash("never", 1);
    await until(events, () => f.services.vms.get("never").state === "crashed", 2000, "crashed");
    assert.match(f.services.vms.get("never").last_error ?? "", /exited with code 1/);
    assert.equal(f.net.taps.size, 0, "a crashed VM's TAP is removed");

    await f.services.vms.create({ name: "r", plugin: "web", restart_policy: "on-failure" });
    for (let i = 1; i <= 2; i++) {
      const pid = f.services.vms.get("r").pid;
      f.hv.crash("r", null, "SIGKILL");
      await clock.waitForTimers(1); // the backoff is scheduled: let it run out
      clock.runAll();
      await until(
        events,
        () => {
          const v = f.services.vms.get("r");
          return v.state === "running" && v.pid !== pid;
        },
        3000,
        `restart ${i}`,
      );
      assert.equal(f.services.vms.get("r").restarts, i);
    }
    f.hv.crash("r", 1);
    await until(events, () => types(f).includes("vm.failed"), 2000, "restart limit");
    assert.equal(f.services.vms.get("r").state, "crashed");
    assert.match(f.services.vms.get("r").last_error ?? "", /restart limit reached: 2 restarts/);
    const rEvents = f.services.events.list({ filter: { resource: "r" }, limit: 1000 }).map((e) =>
      e.type
    );
    assert.equal(rEvents.filter((t) => t === "vm.restarting").length, 2);
    assert.equal(rEvents.filter((t) => t === "vm.crashed").length, 3);

    // A clean guest power-off is `stopped`, and on-failure does not restart it.
    await f.services.vms.create({ name: "p", plugin: "web", restart_policy: "on-failure" });
    f.hv.crash("p", 0);
    await until(events, () => f.services.vms.get("p").state === "stopped", 2000, "stopped");
    // The restart decision is made with the exit's event: no timer means no restart.
    assert.equal(clock.pending, 0);
    clock.runAll();
    assert.equal(f.services.vms.get("p").state, "stopped");
  } finally {
    await f.close();
  }
});

Deno.test("daemon restart: running VMs are adopted, a vanished one is crashed, then all stop cleanly", async () => {
  const f = await serviceFixture();
  try {
    for (const n of ["v1", "v2", "v3"]) await f.services.vms.create({ name: n, plugin: "web" });
    await f.services.close(); // the daemon goes away; VMMs keep running
    f.hv.vanish("v2");
    const b = await f.reopen();
    assert.equal(b.vms.get("v1").state, "running");
    assert.equal(b.vms.get("v3").state, "running");
    assert.equal(b.vms.get("v2").state, "crashed");
    const evs = b.events.list({ limit: 1000 }).map((e) => `${e.type} ${e.resource}`);
    assert.ok(evs.includes("vm.adopted v1") && evs.includes("vm.adopted v3"));
    assert.ok(evs.includes("vm.crashed v2"));
    assert.ok(!f.net.taps.has(b.vms.get("v2").tap), "the lost VM's TAP is removed");
    // Adopted VMs are watched: a crash is noticed by the new instance.
    f.hv.crash("v3", 2);
    await until(b.events, () => b.vms.get("v3").state === "crashed", 2000, "v3 crashed");
    for (const n of ["v1", "v2", "v3"]) await b.vms.delete(n);
    assert.equal(f.hv.running.size, 0);
    assert.equal(f.net.taps.size, 0);
    assert.equal(f.store.leases.count(), 0);
  } finally {
    await f.close();
  }
});

Deno.test("config: versions and history; network honoured; manifest re-validated; plugin fixed", async () => {
  const f = await serviceFixture();
  try {
    await f.services.vms.create({ name: "c", plugin: "web", start: false });
    const v1 = f.services.vms.getConfig("c");
    assert.equal(v1.version, 1);
    const v2 = await f.services.vms.patchConfig("c", {
      resources: { memory_mb: 512 },
      network: { mode: "dhcp" },
      metadata: { team: "a" },
    });
    assert.equal(v2.version, 2);
    assert.equal(v2.config.resources.memory_mb, 512);
    assert.equal(v2.config.resources.cpu_cores, 2);
    assert.deepEqual(v2.config.network, { mode: "dhcp" });
    assert.equal(f.services.vms.get("c").memory_mb, 512);
    await f.services.vms.start("c");
    const line = parseCmdline(f.hv.specs.at(-1)!.cmdline);
    assert.equal(line.get("volant.ip"), undefined, "dhcp mode: no static address");
    assert.equal(f.hv.specs.at(-1)!.memoryMb, 512);
    await assert.rejects(
      f.services.vms.patchConfig("c", { manifest: { name: "web", version: "" } }),
      (e) =>
        isVolantError(e, "invalid_input") &&
        e.problems.some((p) => p.field.startsWith("manifest.")),
    );
    const other = { ...v1.config.manifest, name: "other" };
    await assert.rejects(
      f.services.vms.patchConfig("c", { manifest: other }),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "manifest.name",
    );
    await assert.rejects(
      f.services.vms.patchConfig("c", { plugin: "x" } as never),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "plugin",
    );
    await f.services.vms.patchConfig("c", { metadata: null });
    const h = f.services.vms.configHistory("c");
    assert.deepEqual(h.map((e) => e.version), [3, 2, 1]);
    assert.equal(h[0].config.metadata, undefined);
    assert.deepEqual(f.services.vms.configHistory("c", 1).map((e) => e.version), [3]);
    assert.ok(types(f).includes("vm.config_updated"));
  } finally {
    await f.close();
  }
});

Deno.test("list: filters, search, paging and total", async () => {
  const f = await serviceFixture();
  try {
    for (let i = 0; i < 12; i++) {
      await f.services.vms.create({ name: `n${i}`, plugin: "web", start: i < 4 });
    }
    const q = { limit: 5, offset: 0, sort: "name" as const, order: "asc" as const };
    assert.equal(f.services.vms.list({ ...q, state: "running" }).total, 4);
    const page = f.services.vms.list({ ...q, offset: 10 });
    assert.equal(page.total, 12);
    assert.deepEqual(page.items.map((v) => v.name), ["n8", "n9"]);
    assert.deepEqual(f.services.vms.list({ ...q, q: "n1" }).items.map((v) => v.name), [
      "n1",
      "n10",
      "n11",
    ]);
    const rec = page.items[0] as Record<string, unknown>;
    assert.equal(rec.artifacts, undefined, "internal fields are not exposed");
    assert.equal(rec.desired, undefined);
  } finally {
    await f.close();
  }
});

Deno.test("random concurrent start/stop/restart/delete/crash: only clean errors, nothing leaks", async () => {
  const f = await serviceFixture({ options: { restart: { baseDelayMs: 1, maxDelayMs: 5 } } });
  try {
    const names = Array.from({ length: 12 }, (_, i) => `z${i}`);
    await Promise.all(names.map((name, i) =>
      f.services.vms.create({
        name,
        plugin: "web",
        start: i % 2 === 0,
        restart_policy: i % 3 === 0 ? "always" : "on-failure",
      })
    ));
    let seed = 42;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const name = names[rnd(names.length)];
      const op = rnd(5);
      const p = op === 0
        ? f.services.vms.start(name)
        : op === 1
        ? f.services.vms.stop(name)
        : op === 2
        ? f.services.vms.restart(name)
        : op === 3
        ? Promise.resolve().then(() => f.hv.running.has(name) && f.hv.crash(name, 1))
        : f.services.vms.patchConfig(name, { metadata: { i } });
      ops.push(p.catch((e) => {
        // Only expected refusals: a state that does not allow the action.
        assert.ok(isVolantError(e, "conflict"), String(e));
      }));
      // Let the operations queued so far interleave with the next ones.
      if (i % 20 === 0) await ops[ops.length - 1];
    }
    await Promise.all(ops);
    for (const name of names) {
      // A pending automatic restart is cancelled by the delete, or runs before it (the lock).
      await f.services.vms.delete(name);
    }
    assert.equal(f.hv.running.size, 0, "no VMM left");
    assert.equal(f.net.taps.size, 0, "no TAP left");
    assert.equal(f.store.leases.count(), 0, "no lease left");
    assert.equal(f.services.vms.list({ limit: 100, offset: 0, sort: "id", order: "asc" }).total, 0);
  } finally {
    await f.close();
  }
});

Deno.test("doomed creates take no lease: 40 at once on a 13-address pool all answer unavailable", async () => {
  const f = await serviceFixture({ options: { subnet: "10.30.0.0/28" } }); // .2 .. .14
  try {
    // A driver that takes its time to say no: before the fix each create held
    // its lease through that wait, and the pool ran dry for the others.
    f.hv.available = () =>
      new Promise((resolve) =>
        setTimeout(() => resolve({ ok: false, reason: "no accelerator" }), 100)
      );
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => f.services.vms.create({ name: `x${i}`, plugin: "web" })),
    );
    const codes = new Set(results.map((r) => r.status === "rejected" && r.reason.code));
    assert.deepEqual([...codes], ["unavailable"]);
    assert.equal(f.services.vms.list({ limit: 100, offset: 0, sort: "id", order: "asc" }).total, 0);
  } finally {
    await f.close();
  }
});

Deno.test("crash: a guest reboot the driver ended (exit 0, guest=reboot) is a crash; on-failure restarts it", async () => {
  const f = await serviceFixture({
    options: { restart: { maxRestarts: 2, baseDelayMs: 5, windowMs: 60_000 } },
  });
  try {
    await f.services.vms.create({ name: "rb", plugin: "web", restart_policy: "on-failure" });
    const pid = f.services.vms.get("rb").pid;
    f.hv.crash("rb", 0, null, "reboot");
    await until(
      f.services.events,
      () => {
        const v = f.services.vms.get("rb");
        return v.state === "running" && v.pid !== pid;
      },
      3000,
      "restarted after the guest reboot",
    );
    const crashed = f.services.events.list({ filter: { resource: "rb" }, limit: 100 })
      .filter((e) => e.type === "vm.crashed");
    assert.equal(crashed.length, 1);
    // With policy never it stays crashed, saying why.
    await f.services.vms.create({ name: "rn", plugin: "web" });
    f.hv.crash("rn", 0, null, "reboot");
    await until(
      f.services.events,
      () => f.services.vms.get("rn").state === "crashed",
      2000,
      "crashed",
    );
    assert.match(f.services.vms.get("rn").last_error ?? "", /guest rebooted/);
  } finally {
    await f.close();
  }
});
