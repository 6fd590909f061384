/**
 * Deployments for real: a volantd in a network namespace this test creates,
 * the static-http example plugin built by fledge, replicas booted under QEMU,
 * everything driven through `volar deployments`. One deployment goes through
 * every step (small guests: 128 MiB, at most 5 at once). On failure the
 * serial logs and the daemon log are kept in test-artifacts/e2e-deployments/.
 */
import assert from "node:assert/strict";
import { prepareHost } from "../../scripts/journey/prepare.ts";
import { Sandbox } from "../../scripts/journey/sandbox.ts";
import { REPO } from "../../scripts/_repo.ts";

interface Replica {
  name: string;
  state: string;
  health: string;
  ip?: string;
  ready: boolean;
  revision: number;
}
interface Deployment {
  name: string;
  replicas: number;
  ready: number;
  current: number;
  updated: number;
  revision: number;
  rollout: string;
  replica_status: Replica[];
  conditions: { type: string; status: boolean; reason: string; message: string }[];
}
interface Vm {
  name: string;
  id: number;
  ip: string;
  tap: string;
  state: string;
  health: string;
}

const KEEP_LOGS = `${REPO}/test-artifacts/e2e-deployments`;
const SAMPLER = `${REPO}/tests/e2e/fixtures/health_sampler.ts`;
const WAIT = ["--wait", "--timeout", "600"];

/** VMM processes whose command line names the sandbox runtime dir (of `name`, or any). */
async function vmmPids(sb: Sandbox, name?: string): Promise<number[]> {
  const pids: number[] = [];
  const needle = name ? `${sb.runtimeDir}/${name}/` : `${sb.runtimeDir}/`;
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (cmd.includes(needle) && /qemu/.test(cmd)) pids.push(Number(e.name));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return pids;
}

async function taps(sb: Sandbox): Promise<string[]> {
  const r = await sb.inNetns(["ip", "-j", "link", "show"]);
  return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname)
    .filter((n) => n.startsWith("vtap")).sort();
}

async function leased(sb: Sandbox): Promise<number> {
  return (await sb.volarJson<{ network: { leased: number } }>(["info"])).network.leased;
}

const show = (sb: Sandbox, name: string) => sb.volarJson<Deployment>(["deployments", "show", name]);
const vms = (sb: Sandbox) => sb.volarJson<Vm[]>(["vms", "list"]);

async function must(sb: Sandbox, args: string[]): Promise<string> {
  const r = await sb.volar(args);
  assert.equal(r.code, 0, `volar ${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
  return r.stdout;
}

/** Everything the deployment holds matches reality: VMs, VMMs, leases and TAPs. */
async function assertNoLeaks(sb: Sandbox, expected: string[]) {
  const list = await vms(sb);
  assert.deepEqual(list.map((v) => v.name).sort(), [...expected].sort(), "VMs");
  for (const v of list) {
    assert.equal((await vmmPids(sb, v.name)).length, 1, `one VMM for ${v.name}`);
  }
  assert.equal((await vmmPids(sb)).length, expected.length, "no stray VMM");
  assert.equal(await leased(sb), expected.length, "one lease per replica");
  assert.deepEqual(await taps(sb), list.map((v) => v.tap).sort(), "one TAP per replica");
}

Deno.test({
  name: "deployments: replicas under QEMU: heal, scale, roll, survive a daemon SIGKILL, delete",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  if (Deno.uid() !== 0) throw new Error("e2e tests need root (netns, TAP): run as root");
  const artifacts = await prepareHost();
  const sb = await Sandbox.create({ artifacts, prefix: "volant-dep" });
  let ok = false;
  try {
    await sb.startDaemon();
    await sb.installExample();
    const config = `${sb.dir}/web-config.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({ plugin: "static-http", resources: { cpu_cores: 1, memory_mb: 128 } }),
    );

    await t.step("bad input: one error naming the field, nothing created", async () => {
      const bad = `${sb.dir}/bad-config.json`;
      const cases: [string[], RegExp][] = [
        [["--config", config, "--replicas=-1"], /--replicas/],
        [["--config", config, "--replicas", "5000000"], /--replicas/],
        [["--plugin", "no-such-plugin", "--replicas", "1"], /config\.plugin/],
        [["--config", bad, "--replicas", "1"], /config\.colour/],
      ];
      await Deno.writeTextFile(bad, JSON.stringify({ plugin: "static-http", colour: "red" }));
      for (const [args, field] of cases) {
        const r = await sb.volar(["deployments", "create", "web", ...args]);
        assert.notEqual(r.code, 0, args.join(" "));
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.match(r.stderr, field);
      }
      // The API itself (no CLI range check in front of it).
      const client = Deno.createHttpClient({ proxy: { transport: "unix", path: sb.socket } });
      try {
        for (const [replicas, status] of [[-1, 400], [1_000_000, 400]] as const) {
          const res = await fetch("http://volantd/api/v1/deployments", {
            method: "POST",
            client,
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ name: "web", replicas, config: { plugin: "static-http" } }),
          });
          assert.equal(res.status, status);
          const problem = await res.json();
          assert.deepEqual(problem.problems.map((p: { field: string }) => p.field), ["replicas"]);
        }
      } finally {
        client.close();
      }
      assert.deepEqual(await sb.volarJson(["deployments", "list"]), []);
      assert.deepEqual(await vms(sb), []);
    });

    let first: Deployment;
    await t.step("create 3: healthy, 3 distinct IPs, each answering HTTP", async () => {
      const r = await sb.volar([
        "deployments",
        "create",
        "web",
        "--config",
        config,
        "--replicas",
        "3",
        ...WAIT,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /web: 3\/3 ready/, "progress lines");
      first = await show(sb, "web");
      assert.deepEqual(first.replica_status.map((x) => x.name), ["web-1", "web-2", "web-3"]);
      assert.ok(first.replica_status.every((x) => x.state === "running" && x.health === "healthy"));
      const ips = first.replica_status.map((x) => x.ip!);
      assert.equal(new Set(ips).size, 3);
      for (const ip of ips) assert.match(await sb.fetchInNetns(`http://${ip}/`), /<|static/i);
      // A replica is not a loose VM.
      const stop = await sb.volar(["vms", "stop", "web-2"]);
      assert.equal(stop.code, 4);
      assert.match(stop.stderr, /replica of deployment web/);
    });

    await t.step("SIGKILL one replica's VMM: replaced, healthy again", async () => {
      const before = (await vms(sb)).find((v) => v.name === "web-2")!;
      const [pid] = await vmmPids(sb, "web-2");
      Deno.kill(pid, "SIGKILL");
      const deadline = Date.now() + 600_000;
      let d: Deployment;
      while (true) {
        d = await show(sb, "web");
        const now = (await vms(sb)).find((v) => v.name === "web-2");
        if (now && now.id !== before.id && d.ready === 3) break;
        assert.ok(Date.now() < deadline, `web-2 not replaced: ${JSON.stringify(d)}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      const ip = d.replica_status.find((x) => x.name === "web-2")!.ip!;
      await sb.fetchInNetns(`http://${ip}/`);
      const lines = await must(sb, [
        "events",
        "--type",
        "deployment.replica_replaced",
        "-o",
        "json",
      ]);
      const replaced = lines.trim().split("\n").map((l) => JSON.parse(l).data);
      assert.ok(replaced.some((e) => e.replica === "web-2" && e.reason === "crashed"), lines);
    });

    await t.step("scale 3 -> 1 -> 2: highest go and free their IPs, lowest come back", async () => {
      const before = await show(sb, "web");
      await must(sb, ["deployments", "scale", "web", "--replicas", "1", ...WAIT]);
      const one = await show(sb, "web");
      assert.deepEqual(one.replica_status.map((x) => x.name), ["web-1"]);
      await assertNoLeaks(sb, ["web-1"]);
      const freed = before.replica_status.filter((x) => x.name !== "web-1").map((x) => x.ip);
      await must(sb, ["deployments", "scale", "web", "--replicas", "2", ...WAIT]);
      const two = await show(sb, "web");
      assert.deepEqual(two.replica_status.map((x) => x.name), ["web-1", "web-2"]);
      // The new web-2 took the lowest free address: one of those just freed.
      assert.ok(freed.includes(two.replica_status[1].ip), JSON.stringify({ freed, two }));
      await assertNoLeaks(sb, ["web-1", "web-2"]);
    });

    await t.step(
      "config update rolls; a 200 ms sampler never sees fewer than 2 healthy",
      async () => {
        const stop = `${sb.dir}/sampler.stop`;
        const sampler = new Deno.Command("ip", {
          args: [
            "netns",
            "exec",
            sb.netns,
            Deno.execPath(),
            "run",
            "-A",
            SAMPLER,
            sb.socket,
            "web",
            stop,
          ],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        try {
          await new Promise((r) => setTimeout(r, 1500));
          const v2 = `${sb.dir}/web-config-v2.json`;
          await Deno.writeTextFile(
            v2,
            JSON.stringify({
              plugin: "static-http",
              resources: { cpu_cores: 1, memory_mb: 160 },
              env: { RELEASE: "2" },
            }),
          );
          const r = await sb.volar(["deployments", "update", "web", "--config", v2, ...WAIT]);
          assert.equal(r.code, 0, r.stderr);
          await new Promise((r) => setTimeout(r, 1000));
        } finally {
          await Deno.writeTextFile(stop, "");
        }
        const out = await sampler.output();
        const text = new TextDecoder().decode(out.stdout).trim();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
        const res = JSON.parse(text) as {
          samples: number;
          min: number;
          minAt: string;
          ips: string[];
        };
        console.log(`rolling update: ${res.samples} samples, min healthy ${res.min}`);
        assert.ok(res.samples > 10, text);
        assert.ok(res.min >= 2, `saw only ${res.min} healthy replicas at ${res.minAt}`);
        const d = await show(sb, "web");
        assert.equal(d.revision, 2);
        assert.equal(d.updated, 2);
        assert.equal(d.rollout, "complete");
        const list = await vms(sb);
        assert.equal(list.length, 2);
        assert.ok(list.every((v) => (v as unknown as { memory_mb: number }).memory_mb === 160));
        await assertNoLeaks(sb, list.map((v) => v.name));
      },
    );

    await t.step(
      "SIGKILL the daemon during a scale-up, restart: converges, no extra VM/lease/TAP",
      async () => {
        await must(sb, ["deployments", "scale", "web", "--replicas", "4"]);
        // Kill as soon as a new replica exists (its VMM may or may not be up yet).
        const deadline = Date.now() + 120_000;
        while ((await vms(sb)).length < 3) {
          assert.ok(Date.now() < deadline, "scale-up did not start");
          await new Promise((r) => setTimeout(r, 100));
        }
        const atKill = (await vms(sb)).map((v) => `${v.name}:${v.state}/${v.health}`);
        await sb.killDaemon();
        console.log(`daemon SIGKILLed with VMs ${atKill.join(" ")}`);
        await sb.startDaemon();
        await must(sb, ["deployments", "scale", "web", "--replicas", "4", ...WAIT]);
        const d = await show(sb, "web");
        assert.equal(d.ready, 4);
        assert.equal(d.replica_status.length, 4);
        await assertNoLeaks(sb, d.replica_status.map((x) => x.name));
      },
    );

    await t.step("delete: nothing left", async () => {
      await must(sb, ["deployments", "delete", "web", ...WAIT]);
      assert.deepEqual(await sb.volarJson(["deployments", "list"]), []);
      await assertNoLeaks(sb, []);
    });
    ok = true;
  } finally {
    if (!ok) {
      const kept = await sb.keepSerialLogs(KEEP_LOGS);
      console.error(`deployments e2e: logs kept: ${kept.join(", ")}`);
      // Replicas are guarded as loose VMs: delete the deployment before the sandbox sweeps VMs.
      await sb.volar(["deployments", "delete", "web", "--wait", "--timeout", "120"]);
    }
    await sb.close();
  }
});
