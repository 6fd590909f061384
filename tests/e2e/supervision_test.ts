/**
 * Supervision end to end, all real: volantd (child process) with the QEMU
 * driver and host networking inside a network namespace this test creates
 * (`ip netns add`, deleted at the end), QEMU booting our kernel with the
 * busybox test guest as the plugin's initramfs.
 *
 * 1. Three VMs run; the daemon is SIGKILLed; the VMMs survive (detached).
 * 2. A new daemon adopts all three (same pids, `vm.adopted`).
 * 3. A VMM killed from outside: `vm.crashed`, then a restart per policy.
 * 4. Deleting everything leaves no qemu, no TAP and no lease.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildTestGuest, findTestKernel } from "../../src/vmm/testing/guest_fixture.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

async function sh(cmd: string[], allowFail = false): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success && !allowFail) {
    throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

interface Daemon {
  child: Deno.ChildProcess;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  json<T = Record<string, unknown>>(path: string, init?: RequestInit): Promise<T>;
  stderr(): string;
  close(): void;
}

async function startDaemon(ns: string, dir: string, args: string[]): Promise<Daemon> {
  const socket = `${dir}/volantd.sock`;
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", ns, Deno.execPath(), "run", "-A", MAIN, "volantd", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1", VOLANT_CONFIG: `${dir}/volantd.toml` },
  }).spawn();
  let err = "";
  (async () => {
    const dec = new TextDecoder();
    for await (const c of child.stderr) err += dec.decode(c, { stream: true });
  })();
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  const f = (path: string, init: RequestInit = {}) =>
    fetch(`http://volantd${path}`, { ...init, client });
  const deadline = Date.now() + 60_000;
  while (true) {
    try {
      const res = await f("/healthz");
      await res.body?.cancel();
      if (res.ok) break;
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
    }
    if (Date.now() > deadline) throw new Error(`volantd not ready:\n${err}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    fetch: f,
    async json(path, init) {
      const res = await f(path, init);
      const text = await res.text();
      if (!res.ok) throw new Error(`${init?.method ?? "GET"} ${path}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : {};
    },
    stderr: () => err,
    close: () => client.close(),
  };
}

const post = (body: unknown): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

type Vm = { name: string; state: string; pid?: number; tap: string; ip: string };
type Ev = { id: number; type: string; resource: string };

Deno.test("daemon SIGKILL with 3 VMs: adopted by the next daemon, crash restarts per policy, delete leaks nothing", async () => {
  if (Deno.uid() !== 0) throw new Error("needs root (creates a network namespace and TAPs)");
  const kernel = await findTestKernel(); // fails saying: deno task kernel
  const guest = await buildTestGuest({ kernel });
  const ns = `volsup${crypto.randomUUID().slice(0, 8)}`;
  const dir = await Deno.makeTempDir({ prefix: "volant-sup-" });
  await sh(["ip", "netns", "add", ns]);
  let daemon: Daemon | undefined;
  const pids = new Set<number>();
  try {
    await Deno.writeTextFile(`${dir}/volantd.toml`, "");
    // The plugin: the test guest's initramfs beside a manifest, installed by path.
    await Deno.mkdir(`${dir}/plugin`);
    const initramfs = await Deno.readFile(guest.initramfs);
    await Deno.writeFile(`${dir}/plugin/initramfs.cpio`, initramfs);
    await Deno.writeTextFile(
      `${dir}/plugin/manifest.json`,
      JSON.stringify({
        name: "testguest",
        version: "1",
        initramfs: {
          url: "initramfs.cpio",
          checksum: createHash("sha256").update(initramfs).digest("hex"),
        },
        resources: { cpu_cores: 1, memory_mb: 128 },
        workload: { type: "http", base_url: "http://127.0.0.1:80", entrypoint: ["/bin/true"] },
      }),
    );
    const agentImage = `${dir}/agent.img`;
    await Deno.writeFile(agentImage, new Uint8Array(1024 * 1024));
    const args = [
      "--state-dir",
      `${dir}/state`,
      "--socket",
      `${dir}/volantd.sock`,
      "--runtime-dir",
      `${dir}/run`,
      "--cache-dir",
      `${dir}/cache`,
      "--hypervisor",
      "qemu",
      "--kernel",
      kernel,
      "--agent-image",
      agentImage,
      "--bridge",
      "vbrsup0",
      "--subnet",
      "10.89.0.0/24",
      "--stop-grace-seconds",
      "2",
    ];
    daemon = await startDaemon(ns, dir, args);
    await daemon.json("/api/v1/plugins", post({ path: `${dir}/plugin/manifest.json` }));
    for (const [name, policy] of [["s1", "never"], ["s2", "never"], ["s3", "on-failure"]]) {
      const vm: Vm = await daemon.json<Vm>(
        "/api/v1/vms",
        post({ name, plugin: "testguest", restart_policy: policy }),
      );
      assert.equal(vm.state, "running", `${name}: ${JSON.stringify(vm)}`);
      pids.add(vm.pid!);
    }
    const before = (await daemon.json<{ items: Vm[] }>("/api/v1/vms?sort=name")).items;

    // 1. SIGKILL the daemon: the detached VMMs keep running.
    daemon.child.kill("SIGKILL");
    await daemon.child.status;
    daemon.close();
    daemon = undefined;
    for (const vm of before) assert.ok(alive(vm.pid!), `${vm.name} survived the daemon`);

    // 2. The next daemon adopts them.
    daemon = await startDaemon(ns, dir, args);
    const after = (await daemon.json<{ items: Vm[] }>("/api/v1/vms?sort=name")).items;
    assert.deepEqual(
      after.map((v) => [v.name, v.state, v.pid]),
      before.map((v) => [v.name, "running", v.pid]),
    );
    const events =
      (await daemon.json<{ items: Ev[] }>("/api/v1/events?follow=false&type=vm.adopted")).items;
    assert.deepEqual(events.map((e) => e.resource).sort(), ["s1", "s2", "s3"]);

    // 3. A VMM killed from outside: crashed, then restarted (on-failure).
    const s3 = after.find((v) => v.name === "s3")!;
    Deno.kill(s3.pid!, "SIGKILL");
    const restarted = await until("s3 restarted", async () => {
      const v = await daemon!.json<Vm>("/api/v1/vms/s3");
      return v.state === "running" && v.pid !== s3.pid ? v : undefined;
    });
    pids.add(restarted.pid!);
    const s3Events = (await daemon.json<{ items: Ev[] }>("/api/v1/events?follow=false&resource=s3"))
      .items.map((e) => e.type);
    for (const t of ["vm.crashed", "vm.restarting", "vm.running"]) {
      assert.ok(s3Events.includes(t), `${t} in ${s3Events.join(",")}`);
    }
    // A VM with policy never stays crashed.
    const s1 = after.find((v) => v.name === "s1")!;
    Deno.kill(s1.pid!, "SIGKILL");
    await until(
      "s1 crashed",
      async () => (await daemon!.json<Vm>("/api/v1/vms/s1")).state === "crashed" ? true : undefined,
    );

    // 4. Delete everything: no qemu, no TAP, no lease.
    for (const name of ["s1", "s2", "s3"]) {
      const res = await daemon.fetch(`/api/v1/vms/${name}`, { method: "DELETE" });
      await res.body?.cancel();
      assert.equal(res.status, 204, name);
    }
    for (const pid of pids) assert.ok(!alive(pid), `qemu ${pid} is gone`);
    const links = await sh(["ip", "netns", "exec", ns, "ip", "-o", "link", "show"]);
    assert.ok(!/vtap\d+/.test(links), `no TAP left:\n${links}`);
    const info = await daemon.json<{ network: { leased: number } }>("/api/v1/system/info");
    assert.equal(info.network.leased, 0);
  } finally {
    if (daemon) {
      daemon.child.kill("SIGTERM");
      await daemon.child.status;
      daemon.close();
    }
    for (const pid of pids) {
      if (alive(pid)) Deno.kill(pid, "SIGKILL"); // only the VMMs this test started
    }
    await sh(["ip", "netns", "del", ns], true);
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(guest.dir, { recursive: true });
  }
});
