import assert from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import { openStore } from "../store/mod.ts";
import { formatIpv4, Ipam, lowestFree, macFor, parseIpv4, planPool, tapFor } from "./ipam.ts";

Deno.test("pool: gateway is the first host, default range .100 .. broadcast-1 (Volant's)", () => {
  const p = planPool("192.168.127.0/24");
  assert.equal(p.gateway, "192.168.127.1");
  assert.equal(p.start, "192.168.127.100");
  assert.equal(p.end, "192.168.127.254");
  assert.equal(p.capacity, 155);
  // A subnet too small for .100 starts right after the gateway.
  assert.equal(planPool("10.0.0.0/26").start, "10.0.0.2");
  // Either end may be configured alone.
  assert.equal(planPool("192.168.127.0/24", { start: "192.168.127.2" }).capacity, 253);
  assert.equal(planPool("192.168.127.0/24", { end: "192.168.127.199" }).capacity, 100);
  const custom = planPool("10.0.0.0/16", { start: "10.0.1.10", end: "10.0.1.20" });
  assert.equal(custom.capacity, 11);
});

Deno.test("pool: bad subnets and ranges name the field", () => {
  const field = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(isVolantError(e, "invalid_input"));
      return e.problems[0].field;
    }
    assert.fail("should throw");
  };
  assert.equal(field(() => planPool("192.168.127.5/24")), "subnet");
  assert.equal(field(() => planPool("300.1.1.0/24")), "subnet");
  assert.equal(field(() => planPool("10.0.0.0/31")), "subnet");
  assert.equal(
    field(() => planPool("10.0.0.0/24", { start: "10.0.0.1", end: "10.0.0.9" })),
    "pool",
  );
  assert.equal(
    field(() => planPool("10.0.0.0/24", { start: "10.0.1.1", end: "10.0.1.9" })),
    "pool.start",
  );
});

Deno.test("lowest free address in numeric order (.2, .3 ... .10 before .100)", () => {
  const p = planPool("192.168.127.0/24", { start: "192.168.127.2" });
  const n = (last: number) => parseIpv4(`192.168.127.${last}`);
  assert.equal(formatIpv4(lowestFree(p, [])!), "192.168.127.2");
  const leased = Array.from({ length: 8 }, (_, i) => n(i + 2)); // .2 .. .9
  assert.equal(formatIpv4(lowestFree(p, leased)!), "192.168.127.10");
  assert.equal(formatIpv4(lowestFree(p, [n(2), n(4)])!), "192.168.127.3");
  const all = Array.from({ length: 253 }, (_, i) => n(i + 2));
  assert.equal(lowestFree(p, all), null);
});

Deno.test("MAC is deterministic, locally administered; TAP named by row id", () => {
  const a = macFor("web", "192.168.127.2");
  assert.match(a, /^02(:[0-9a-f]{2}){5}$/);
  assert.equal(a, macFor("web", "192.168.127.2"));
  assert.notEqual(a, macFor("web", "192.168.127.3"));
  assert.equal(tapFor(12), "vtap12");
});

Deno.test("leases in SQLite: exhaustion names the pool; release frees the address", () => {
  const dir = Deno.makeTempDirSync();
  const store = openStore({ stateDir: dir });
  try {
    const ipam = new Ipam(store.leases, planPool("10.9.0.0/29")); // .2 .. .6
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push(
        store.vms.insert({
          name: `v${i}`,
          state: "created",
          desired: "stopped",
          plugin: "p",
          runtime: "p",
          ip: "",
          mac: "",
          cpu_cores: 1,
          memory_mb: 64,
          machine: "microvm",
          restart_policy: "never",
          health: "unknown",
          kernel_cmdline: "",
          restarts: 0,
          artifacts: [],
        }, "t").id,
      );
    }
    const got = ids.slice(0, 5).map((id) => store.tx(() => ipam.allocate(id, "t")));
    assert.deepEqual(got, ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]);
    assert.throws(
      () => store.tx(() => ipam.allocate(ids[5], "t")),
      (e) =>
        isVolantError(e, "exhausted") && /10\.9\.0\.2-10\.9\.0\.6/.test(e.message) &&
        /10\.9\.0\.0\/29/.test(e.message),
    );
    ipam.release(ids[1]);
    assert.equal(store.tx(() => ipam.allocate(ids[5], "t")), "10.9.0.3");
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the store's lowest-free query agrees with the pure function on random lease sets", () => {
  const dir = Deno.makeTempDirSync();
  const store = openStore({ stateDir: dir });
  try {
    const pool = planPool("10.30.0.0/26"); // .2 .. .62
    const ids: number[] = [];
    for (let i = 0; i < 61; i++) {
      ids.push(
        store.vms.insert({
          name: `r${i}`,
          state: "created",
          desired: "stopped",
          plugin: "p",
          runtime: "p",
          ip: "",
          mac: "",
          cpu_cores: 1,
          memory_mb: 64,
          machine: "microvm",
          restart_policy: "never",
          health: "unknown",
          kernel_cmdline: "",
          restarts: 0,
          artifacts: [],
        }, "t").id,
      );
    }
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let round = 0; round < 40; round++) {
      store.tx(() => ids.forEach((id) => store.leases.releaseVm(id)));
      const take = rnd(62);
      const chosen = new Set<number>();
      while (chosen.size < take) chosen.add(pool.startNum + rnd(pool.capacity));
      [...chosen].forEach((ip, i) => store.leases.insert(ip, ids[i], "t"));
      assert.equal(
        store.leases.lowestFree(pool.startNum, pool.endNum),
        lowestFree(pool, store.leases.leased()),
        `round ${round} with ${take} leases`,
      );
    }
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
