import assert from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import type { VmListQuery } from "../manifest/api.ts";
import type { NewVmRow } from "../service/store_port.ts";
import { databasePath, MIGRATIONS, openStore } from "./mod.ts";

function vm(name: string, over: Partial<NewVmRow> = {}): NewVmRow {
  return {
    name,
    state: "created",
    desired: "stopped",
    plugin: "web",
    runtime: "web",
    ip: "192.168.127.2",
    mac: "02:00:00:00:00:01",
    cpu_cores: 1,
    memory_mb: 128,
    machine: "microvm",
    restart_policy: "never",
    health: "unknown",
    kernel_cmdline: "",
    restarts: 0,
    artifacts: [],
    ...over,
  };
}

const query = (over: Partial<VmListQuery> = {}): VmListQuery => ({
  limit: 100,
  offset: 0,
  sort: "created_at",
  order: "asc",
  ...over,
});

Deno.test("migrations are applied once and recorded; WAL and foreign keys on", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const a = openStore({ stateDir: dir });
    const rows = a.db.prepare("SELECT version, name FROM schema_migrations").all();
    assert.deepEqual(rows.map((r) => ({ ...r })), [
      { version: 1, name: "initial" },
      { version: 2, name: "plugin_signature" },
      { version: 3, name: "deployments" },
    ]);
    assert.equal(
      (a.db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode,
      "wal",
    );
    assert.equal(
      (a.db.prepare("PRAGMA foreign_keys").get() as { foreign_keys: number }).foreign_keys,
      1,
    );
    a.close();
    const b = openStore({ stateDir: dir });
    assert.equal(
      (b.db.prepare("SELECT COUNT(*) AS n FROM schema_migrations").get() as { n: number }).n,
      MIGRATIONS.length,
    );
    assert.equal(b.path, databasePath(dir));
    b.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a newer schema than this binary knows is refused", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const a = openStore({ stateDir: dir });
    a.db.prepare("INSERT INTO schema_migrations VALUES (99, 'future', 'now')").run();
    a.close();
    assert.throws(() => openStore({ stateDir: dir }), /schema is version 99/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("tx rolls back every step on error, nested savepoints too", () => {
  const dir = Deno.makeTempDirSync();
  const s = openStore({ stateDir: dir });
  try {
    assert.throws(() =>
      s.tx(() => {
        s.vms.insert(vm("a"), "t0");
        throw new Error("boom");
      }), /boom/);
    assert.equal(s.vms.get("a"), undefined);
    s.tx(() => {
      s.vms.insert(vm("b"), "t0");
      assert.throws(() =>
        s.tx(() => {
          s.vms.insert(vm("c"), "t0");
          throw new Error("inner");
        })
      );
    });
    assert.ok(s.vms.get("b"));
    assert.equal(s.vms.get("c"), undefined);
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("vm rows: tap from id, duplicate name is a conflict, list filters and pages", () => {
  const dir = Deno.makeTempDirSync();
  const s = openStore({ stateDir: dir });
  try {
    const a = s.vms.insert(vm("alpha"), "2026-01-01T00:00:00.000Z");
    assert.equal(a.tap, `vtap${a.id}`);
    assert.equal(a.pid, undefined);
    assert.throws(() => s.vms.insert(vm("alpha"), "t"), (e) => isVolantError(e, "conflict"));
    s.vms.insert(vm("beta", { plugin: "db" }), "2026-01-01T00:00:01.000Z");
    s.vms.insert(vm("gamma", { state: "running" }), "2026-01-01T00:00:02.000Z");
    const updated = s.vms.update("alpha", { state: "running", pid: 42 }, "t2");
    assert.equal(updated.pid, 42);
    assert.equal(s.vms.update("alpha", { pid: null }, "t3").pid, undefined);
    assert.equal(s.vms.list(query({ state: "running" })).total, 2);
    assert.deepEqual(s.vms.list(query({ plugin: "db" })).items.map((v) => v.name), ["beta"]);
    assert.deepEqual(s.vms.list(query({ q: "AMM" })).items.map((v) => v.name), ["gamma"]);
    assert.deepEqual(s.vms.list(query({ q: "%" })).items, []);
    const page = s.vms.list(query({ limit: 1, offset: 1, sort: "name", order: "desc" }));
    assert.equal(page.total, 3);
    assert.deepEqual(page.items.map((v) => v.name), ["beta"]);
    assert.deepEqual(s.vms.countByState(), { created: 1, running: 2 });
    assert.throws(() => s.vms.update("nope", { state: "stopped" }, "t"), /not found/);
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("leases: unique per address and per VM, cascade with the VM row", () => {
  const dir = Deno.makeTempDirSync();
  const s = openStore({ stateDir: dir });
  try {
    const a = s.vms.insert(vm("a"), "t");
    const b = s.vms.insert(vm("b"), "t");
    s.leases.insert(100, a.id, "t");
    assert.throws(() => s.leases.insert(100, b.id, "t"), (e) => isVolantError(e, "conflict"));
    assert.throws(() => s.leases.insert(101, a.id, "t"), (e) => isVolantError(e, "conflict"));
    s.leases.insert(7, b.id, "t");
    assert.deepEqual(s.leases.leased(), [7, 100]);
    s.vms.delete("a");
    assert.deepEqual(s.leases.leased(), [7]);
    s.leases.releaseVm(b.id);
    assert.equal(s.leases.count(), 0);
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("events: increasing ids, type families and resource filters", () => {
  const dir = Deno.makeTempDirSync();
  const s = openStore({ stateDir: dir });
  try {
    const ids = [
      s.events.append({
        type: "vm.created",
        resource_type: "vm",
        resource: "a",
        time: "t",
        data: {},
      }),
      s.events.append({
        type: "plugin.installed",
        resource_type: "plugin",
        resource: "p",
        time: "t",
        data: { v: 1 },
      }),
      s.events.append({
        type: "vm.running",
        resource_type: "vm",
        resource: "b",
        time: "t",
        data: {},
      }),
    ];
    assert.deepEqual(ids, [1, 2, 3]);
    assert.deepEqual(s.events.after(0, { types: ["vm.*"] }, 10).map((e) => e.id), [1, 3]);
    assert.deepEqual(s.events.after(1, { types: ["vm.*"] }, 10).map((e) => e.id), [3]);
    assert.deepEqual(s.events.after(0, { resource: "p" }, 10)[0].data, { v: 1 });
    assert.equal(s.events.lastId(), 3);
  } finally {
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("vm list cache: invalidated by own writes, rollbacks and other connections' commits", () => {
  const dir = Deno.makeTempDirSync();
  const s = openStore({ stateDir: dir });
  const other = openStore({ stateDir: dir });
  try {
    s.vms.insert(vm("a"), "t1");
    assert.equal(s.vms.list(query()).total, 1);
    s.vms.insert(vm("b"), "t2");
    assert.equal(s.vms.list(query()).total, 2, "own insert");
    s.vms.update("a", { state: "running" }, "t3");
    assert.equal(s.vms.list(query({ state: "running" })).total, 1, "own update");
    other.vms.insert(vm("c"), "t4");
    assert.equal(s.vms.list(query()).total, 3, "another connection's commit");
    other.vms.delete("c");
    assert.equal(s.vms.list(query()).total, 2);
    const first = s.vms.list(query());
    first.items[0].name = "mutated";
    assert.equal(s.vms.list(query()).items[0].name, "a", "callers get copies");
    assert.throws(() =>
      s.tx(() => {
        s.vms.insert(vm("d"), "t5");
        assert.equal(s.vms.list(query()).total, 3, "reads inside a tx see the tx");
        throw new Error("rollback");
      })
    );
    assert.equal(s.vms.list(query()).total, 2, "rolled-back rows are not served from cache");
  } finally {
    other.close();
    s.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
