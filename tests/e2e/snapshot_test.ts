/**
 * Snapshots end to end, all real: volantd (QEMU driver, jail on) in a network
 * namespace this test creates, one VM of the counter guest
 * (tests/e2e/_snapshot_fixture.ts) whose counter lives in one guest process's
 * memory. Snapshot with resume and with stop, restore: the counter continues,
 * IP, MAC and uptime carry on; restore of an older snapshot goes back; a
 * truncated state file and a snapshot of another VMM are refused with a clear
 * reason and the VM still cold-boots; delete cleans up; scale to zero answers
 * the first request after idle (a VM, and a deployment's replica, which the
 * controller keeps while it is parked); 5 creates of a warmed plugin all restore
 * from its snapshot (none falls back to a cold boot) and answer on 5
 * distinct addresses/MACs with distinct random bytes. ~1.5-3 min.
 *
 * Then the same for a real kestrel plugin (the agent image built from
 * agent/main.ts): kestrel takes each clone's identity from its console
 * (agent/identity.ts), the agent proxy works with each clone's own agent key.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildAgentArtifacts } from "../../scripts/agent_image.ts";
import {
  installKestrelPlugin,
  post,
  type SnapDaemon,
  startSnapDaemon,
  until,
} from "./_snapshot_fixture.ts";

type Vm = {
  name: string;
  state: string;
  pid?: number;
  ip: string;
  mac: string;
  last_error?: string;
};
type Snap = {
  name: string;
  after: string;
  size_bytes: number;
  files: { path: string; sha256: string; size: number }[];
  identity: { vmm: string };
};

Deno.test("snapshot and restore one VM: counter continues, same IP/MAC/uptime; damaged or foreign snapshots refused, cold boot still works", async () => {
  let d: SnapDaemon | undefined;
  try {
    d = await startSnapDaemon();
    const daemon = d;
    const vm = await daemon.json<Vm>("/api/v1/vms", post({ name: "c1", plugin: "counter" }));
    assert.equal(vm.state, "running");
    const count = () => daemon.agent("c1", "/cgi-bin/count").then(Number);
    await until("counter answers", () => count().then((n) => n > 0 ? n : undefined));
    assert.equal(await count(), 2);
    assert.equal(await count(), 3);
    const up1 = Number(await daemon.agent("c1", "/cgi-bin/uptime"));
    const net1 = await daemon.agent("c1", "/cgi-bin/net");
    assert.ok(net1.includes(vm.mac) && net1.includes(vm.ip), net1);

    // Snapshot and resume: the guest runs on.
    const s1 = await daemon.json<Snap>("/api/v1/vms/c1/snapshots", post({ name: "s1" }));
    assert.equal(s1.after, "running");
    // RAM is the image beside the state stream (format 2), checksummed like the rest.
    assert.ok(s1.files.some((f) => f.path === "vmm/guest-ram.bin" && f.size === 128 << 20));
    assert.match(s1.identity.vmm, /^qemu: QEMU emulator version/);
    assert.equal(await count(), 4);

    // Snapshot and stop (the issue's `POST /snapshot` spelling): then restore it.
    const s2 = await daemon.json<Snap>("/api/v1/vms/c1/snapshot", post({ name: "s2", stop: true }));
    assert.equal(s2.after, "stopped");
    assert.equal((await daemon.json<Vm>("/api/v1/vms/c1")).state, "stopped");
    const restored = await daemon.json<Vm>("/api/v1/vms/c1/restore", post({ from: "s2" }));
    assert.equal(restored.state, "running");
    assert.notEqual(restored.pid, vm.pid);
    assert.deepEqual([restored.ip, restored.mac], [vm.ip, vm.mac]);
    assert.equal(await count(), 5, "the counter continues where it was");
    assert.equal(await daemon.agent("c1", "/cgi-bin/net"), net1);
    const up2 = Number(await daemon.agent("c1", "/cgi-bin/uptime"));
    assert.ok(up2 >= up1, `uptime carries on (${up1} -> ${up2})`);
    const names = (await daemon.json<{ items: Snap[] }>("/api/v1/vms/c1/snapshots")).items
      .map((s) => s.name);
    assert.deepEqual(names, ["s1", "s2"]);

    // Restoring a running VM is refused; an older snapshot goes back in time.
    const busy = await daemon.fetch("/api/v1/vms/c1/restore", post({ from: "s1" }));
    assert.equal(busy.status, 409, await busy.text());
    await daemon.json("/api/v1/vms/c1/stop", { method: "POST" });
    await daemon.json<Vm>("/api/v1/vms/c1/restore", post({ from: "s1" }));
    assert.equal(await count(), 4, "s1 held 3");

    // A truncated state file: refused before any VMM starts, the VM cold-boots.
    await daemon.json("/api/v1/vms/c1/stop", { method: "POST" });
    const state = `${daemon.dir}/state/snapshots/c1/s1/vmm/qemu-state.bin`;
    const f = await Deno.open(state, { write: true });
    await f.truncate((await f.stat()).size >> 1);
    f.close();
    const bad = await daemon.fetch("/api/v1/vms/c1/restore", post({ from: "s1" }));
    const badBody = await bad.json();
    assert.equal(bad.status, 422, JSON.stringify(badBody));
    assert.match(badBody.detail, /qemu-state\.bin is \d+ bytes, not \d+.*start/);
    assert.equal(badBody.problems?.[0]?.field, "from");
    assert.equal((await daemon.json<Vm>("/api/v1/vms/c1")).state, "stopped");
    await daemon.json<Vm>("/api/v1/vms/c1/start", { method: "POST" });
    await until("cold-booted counter", () => count().then((n) => n > 0 ? n : undefined));

    // A snapshot taken under another VMM: refused, naming what differs.
    await daemon.json("/api/v1/vms/c1/stop", { method: "POST" });
    const meta = `${daemon.dir}/state/snapshots/c1/s2/meta.json`;
    const rec = JSON.parse(await Deno.readTextFile(meta));
    rec.identity.vmm = "qemu: QEMU emulator version 9.9.9; accel kvm";
    await Deno.writeTextFile(meta, JSON.stringify(rec));
    const foreign = await daemon.fetch("/api/v1/vms/c1/restore", post({ from: "s2" }));
    const foreignBody = await foreign.json();
    assert.equal(foreign.status, 409);
    assert.match(foreignBody.detail, /VMM was qemu: QEMU emulator version 9\.9\.9.*refusing/);

    // Delete: one snapshot, then the VM takes the rest with it.
    const del = await daemon.fetch("/api/v1/vms/c1/snapshots/s2", { method: "DELETE" });
    assert.equal(del.status, 204);
    await del.body?.cancel();
    const left = (await daemon.json<{ items: Snap[] }>("/api/v1/vms/c1/snapshots")).items;
    assert.deepEqual(left.map((s) => s.name), ["s1"]);
    const gone = await daemon.fetch("/api/v1/vms/c1", { method: "DELETE" });
    assert.equal(gone.status, 204);
    await gone.body?.cancel();
    await assert.rejects(Deno.stat(`${daemon.dir}/state/snapshots/c1`), Deno.errors.NotFound);

    // Scale to zero: idle 3 s -> snapshot + stop; the next request is held, restored, answered.
    await daemon.json<Vm>(
      "/api/v1/vms",
      post({ name: "z1", plugin: "counter", idle_timeout_s: 3 }),
    );
    const zcount = () => daemon.agent("z1", "/cgi-bin/count").then(Number);
    await until("z1 counter answers", () => zcount().then((n) => n > 0 ? n : undefined));
    assert.equal(await zcount(), 2);
    await until("z1 parked", async () => {
      const v = await daemon.json<Vm>("/api/v1/vms/z1");
      return v.state === "stopped" ? v : undefined;
    }, 60_000);
    const parked = (await daemon.json<{ items: Snap[] }>("/api/v1/vms/z1/snapshots")).items;
    assert.deepEqual(parked.map((s) => [s.name, s.after]), [["idle", "stopped"]]);
    const t0 = performance.now();
    assert.equal(await zcount(), 3, "the first request after idle is answered, state intact");
    const wakeMs = Math.round(performance.now() - t0);
    assert.equal((await daemon.json<Vm>("/api/v1/vms/z1")).state, "running");
    const zEvents = (await daemon.json<{ items: { type: string }[] }>(
      "/api/v1/events?follow=false&resource=z1",
    )).items.map((e) => e.type);
    for (const t of ["vm.snapshotted", "vm.stopped", "vm.restored"]) {
      assert.ok(zEvents.includes(t), `${t} in ${zEvents.join(",")}`);
    }
    console.log(`scale to zero: first request after idle answered in ${wakeMs} ms`);

    // A deployment scales to zero too: its replica is parked, kept (not replaced), and woken.
    await daemon.json(
      "/api/v1/deployments",
      post({ name: "zd", replicas: 1, config: { plugin: "counter", idle_timeout_s: 3 } }),
    );
    const rcount = () => daemon.agent("zd-1", "/cgi-bin/count").then(Number);
    await until("zd-1 counter answers", () => rcount().then((n) => n > 0 ? n : undefined));
    const zdId = (await daemon.json<Vm & { id: number }>("/api/v1/vms/zd-1")).id;
    await until("zd-1 parked", async () => {
      const v = await daemon.json<Vm>("/api/v1/vms/zd-1");
      return v.state === "stopped" ? v : undefined;
    }, 60_000);
    type Dep = { ready: number; replica_status: { name: string; state: string }[] };
    const dep = await daemon.json<Dep>("/api/v1/deployments/zd");
    assert.equal(dep.ready, 1, "a parked replica counts as ready");
    assert.equal(await rcount(), 2, "the parked replica wakes with its counter intact");
    const woken = await daemon.json<Vm & { id: number }>("/api/v1/vms/zd-1");
    assert.deepEqual([woken.state, woken.id], ["running", zdId], "the same VM, not a replacement");

    // Warm start: the plugin's ready snapshot, then 5 clones of it, each with its own identity.
    const ready = await daemon.json<Snap>("/api/v1/plugins/counter/warm", { method: "POST" });
    assert.ok(ready.size_bytes > 0);
    const clones: Vm[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      clones.push(await daemon.json<Vm>("/api/v1/vms", post({ name: `k${i}`, plugin: "counter" })));
      console.log(`clone k${i} running after ${Math.round(performance.now() - t)} ms`);
    }
    const cloneEvents =
      (await daemon.json<{ items: { resource: string; data: { clone?: boolean } }[] }>(
        "/api/v1/events?follow=false&type=vm.restored",
      )).items.filter((e) => e.resource.startsWith("k") && e.data.clone === true);
    // Every clone comes from the snapshot: none fell back to a cold boot.
    assert.equal(cloneEvents.length, 5, "5 of 5 clones restored from the ready snapshot");
    const seen = { ip: new Set<string>(), mac: new Set<string>(), rnd: new Set<string>() };
    for (const c of clones) {
      const [cidr, mac] = (await daemon.agent(c.name, "/cgi-bin/net")).split(" ");
      assert.equal(cidr.split("/")[0], c.ip, `${c.name} answers on its own address`);
      assert.equal(mac, c.mac, `${c.name} has its own MAC`);
      seen.ip.add(c.ip);
      seen.mac.add(mac);
      seen.rnd.add(await daemon.agent(c.name, "/cgi-bin/random"));
      assert.equal(await daemon.agent(c.name, "/cgi-bin/count"), "1", "each clone counts alone");
    }
    assert.deepEqual([seen.ip.size, seen.mac.size, seen.rnd.size], [5, 5, 5]);
  } catch (e) {
    if (d) console.error(d.stderr().slice(-4000));
    throw e;
  } finally {
    await d?.close();
  }
});

const REPO = new URL("../../", import.meta.url).pathname;

Deno.test("warm clones of a kestrel plugin (warm_start on install): 5 of 5 restored, each with its own IP, MAC, hostname, agent key and random bytes", async () => {
  const a = await buildAgentArtifacts({
    kestrel: { kind: "entry", path: join(REPO, "agent/main.ts") },
    cacheDir: Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant",
    setCurrent: false,
    log: () => {},
  });
  let d: SnapDaemon | undefined;
  try {
    // --warm-start: the install alone makes the daemon take the plugin's ready snapshot.
    d = await startSnapDaemon(["--warm-start"], { agentImage: a.agentImage });
    const daemon = d;
    const t0 = performance.now();
    await installKestrelPlugin(daemon, a.shim);
    const ready = await until("the ready snapshot warm_start takes", async () => {
      const res = await daemon.fetch("/api/v1/plugins/kw/warm");
      if (res.status === 404) return void await res.body?.cancel();
      assert.equal(res.status, 200, await res.clone().text());
      return await res.json() as Snap;
    }, 240_000);
    console.log(`kestrel plugin warmed by warm_start in ${Math.round(performance.now() - t0)} ms`);
    assert.ok(ready.size_bytes > 0);
    const clones: Vm[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      clones.push(await daemon.json<Vm>("/api/v1/vms", post({ name: `q${i}`, plugin: "kw" })));
      console.log(`kestrel clone q${i} running after ${Math.round(performance.now() - t)} ms`);
    }
    const restored =
      (await daemon.json<{ items: { resource: string; data: { clone?: boolean } }[] }>(
        "/api/v1/events?follow=false&type=vm.restored",
      )).items.filter((e) => e.resource.startsWith("q") && e.data.clone === true);
    assert.equal(restored.length, 5, "5 of 5 kestrel clones restored from the ready snapshot");
    const seen = { ip: new Set<string>(), mac: new Set<string>(), rnd: new Set<string>() };
    for (const c of clones) {
      // Through kestrel's /v1 proxy: the daemon sends the clone's own agent key, so a clone
      // still holding the template's key would answer 401 here.
      const [cidr, mac] = (await daemon.agent(c.name, "/v1/cgi-bin/net")).split(" ");
      assert.equal(cidr.split("/")[0], c.ip, `${c.name} answers on its own address`);
      assert.equal(mac, c.mac, `${c.name} has its own MAC`);
      assert.equal(await daemon.agent(c.name, "/v1/cgi-bin/hostname"), c.name);
      seen.ip.add(c.ip);
      seen.mac.add(mac);
      seen.rnd.add(await daemon.agent(c.name, "/v1/cgi-bin/random"));
    }
    assert.deepEqual([seen.ip.size, seen.mac.size, seen.rnd.size], [5, 5, 5]);
    // Each restore says where its time went: the four phases make up its total.
    for (const e of restored) {
      const p = (e.data as { phases_ms?: Record<string, number> }).phases_ms;
      assert.ok(p, `${e.resource}: vm.restored has phases_ms`);
      const sum = p.checks + p.host + p.vmm + p.identity;
      assert.ok(p.vmm > 0 && p.identity > 0, `${e.resource}: ${JSON.stringify(p)}`);
      assert.ok(sum <= (e.data as { ms: number }).ms + 4, `${e.resource}: ${sum} ms of phases`);
    }
    // A clone's boot events (its template's boot) come after its vm.healthy, not before it.
    type Ev = { id: number; type: string; resource: string };
    const order = await until("the clones' boot events", async () => {
      const items = (await daemon.json<{ items: Ev[] }>(
        "/api/v1/events?follow=false&type=vm.healthy,vm.workload_started",
      )).items.filter((e) => e.resource.startsWith("q"));
      return items.filter((e) => e.type === "vm.workload_started").length === 5 ? items : undefined;
    }, 30_000);
    for (const c of clones) {
      const healthy = order.find((e) => e.resource === c.name && e.type === "vm.healthy");
      const started = order.find((e) => e.resource === c.name && e.type === "vm.workload_started");
      assert.ok(
        healthy && started && healthy.id < started.id,
        `${c.name}: ${JSON.stringify(order)}`,
      );
    }
    // The console shows the acks, never the request line (it carries the agent key).
    const res = await daemon.fetch("/api/v1/vms/q0/logs?tail=2000");
    const log = await res.text();
    assert.equal(res.status, 200, log);
    assert.match(log, /identity: VOLANT_IDENTITY_OK [0-9a-f]{16} eth0/);
    assert.doesNotMatch(log, /volant-identity /);
  } catch (e) {
    if (d) console.error(d.stderr().slice(-4000));
    throw e;
  } finally {
    await d?.close();
  }
});
