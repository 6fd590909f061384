/**
 * Volant's Quick Start, word for word, against a real volantd (child process,
 * QEMU driver, host networking) inside a network namespace this test creates,
 * with a plugin built the way Volant's fledge builds one: its initramfs brings
 * its own /init (a busybox shell script that configures nothing) and its own
 * /bin/kestrel (here a stand-in that serves HTTP on whatever address the
 * kernel gave eth0). The manifest and the image are served over HTTP on the
 * namespace's loopback (busybox httpd).
 *
 *   volar plugins install --manifest http://127.0.0.1:<port>/caddy.json
 *   volar vms create web --plugin caddy --cpu 2 --memory 512
 *   volar vms list
 *   volar vms get web
 *   volar version
 *
 * Then: the VM answers at its pool address (.100) from inside the namespace,
 * because the kernel configured eth0 from `ip=`; the daemon found it healthy
 * by asking the workload's base_url directly; the documented events are on
 * the stream; `plugins show` names the boot contract.
 *
 * Takes about 60-90 s on a loaded 2-core host (one TCG boot).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { encodeCpio } from "../../src/builder/cpio.ts";
import { findTestKernel } from "../../src/vmm/testing/guest_fixture.ts";
import { createNetns, type Netns, requireCommands, run } from "../_helpers/netns.ts";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const enc = new TextEncoder();

const INIT = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
exec /bin/kestrel
`;

// A stand-in for Volant's kestrel: it configures nothing, it only serves on eth0's address.
const KESTREL = `#!/bin/busybox sh
ADDR=$(/bin/busybox ip -4 -o addr show dev eth0 | /bin/busybox awk '{print $4}')
echo "volant-compat eth0 $ADDR" > /www/index.html
echo "VOLANT-COMPAT-READY $ADDR" > /dev/console
exec /bin/busybox httpd -f -p 80 -h /www
`;

/** The Volant-style initramfs, written with our cpio writer (rootless: /dev/console as a header). */
function volantStyleInitramfs(): Uint8Array {
  const busybox = Deno.readFileSync("/bin/busybox");
  return new Uint8Array(gzipSync(encodeCpio([
    { type: "dir", path: "/bin", mode: 0o755 },
    { type: "dir", path: "/dev", mode: 0o755 },
    { type: "dir", path: "/proc", mode: 0o755 },
    { type: "dir", path: "/sys", mode: 0o755 },
    { type: "dir", path: "/www", mode: 0o755 },
    { type: "char", path: "/dev/console", mode: 0o600, major: 5, minor: 1 },
    { type: "file", path: "/bin/busybox", mode: 0o755, data: busybox },
    { type: "file", path: "/bin/kestrel", mode: 0o755, data: enc.encode(KESTREL) },
    { type: "file", path: "/init", mode: 0o755, data: enc.encode(INIT) },
  ])));
}

/** Volant's caddy manifest shape, pointing at the image beside it. */
function manifest(sha256: string): Record<string, unknown> {
  return {
    $schema:
      "https://raw.githubusercontent.com/volantvm/volant/main/docs/schemas/plugin-manifest-v1.json",
    schema_version: "1.0",
    name: "caddy",
    version: "0.1.0",
    runtime: "caddy",
    enabled: true,
    initramfs: { url: "plugin.cpio.gz", checksum: sha256 },
    rootfs: { url: "", format: "raw" },
    resources: { cpu_cores: 1, memory_mb: 512 },
    workload: {
      type: "http",
      entrypoint: ["/usr/bin/caddy", "run", "--config", "/etc/caddy/Caddyfile"],
      base_url: "http://127.0.0.1:80",
      workdir: "/",
      env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    },
    health_check: { endpoint: "/", timeout_ms: 10000 },
  };
}

async function volar(dir: string, args: string[]) {
  return await run([Deno.execPath(), "run", "-A", "--quiet", MAIN, "volar", ...args], {
    env: { NO_COLOR: "1", VOLANT_SOCKET: `${dir}/volantd.sock` },
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A background process inside the namespace (killed by pid in a finally). */
function spawnIn(ns: Netns, cmd: string[], env: Record<string, string> = {}) {
  return new Deno.Command("ip", {
    args: ["netns", "exec", ns.name, ...cmd],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env,
  }).spawn();
}

/** SIGTERM a child we spawned and wait for it (it may have exited already). */
async function stopChild(p: Deno.ChildProcess): Promise<void> {
  try {
    p.kill("SIGTERM");
  } catch (e) {
    if (!(e instanceof TypeError)) throw e; // already exited
  }
  await p.status;
}

/** SIGKILL a VMM this test started, if the daemon left it running. */
function killIfAlive(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

Deno.test("Volant's Quick Start word for word; a Volant-fledge plugin boots Volant's way and answers at its IP", async () => {
  if (Deno.uid() !== 0) throw new Error("needs root (creates a network namespace and TAPs)");
  await requireCommands("ip", "qemu-system-x86_64");
  const kernel = await findTestKernel(); // fails saying: deno task kernel
  const dir = await Deno.makeTempDir({ prefix: "volant-compat-" });
  const ns = await createNetns("qs");
  let daemon: Deno.ChildProcess | undefined;
  let files: Deno.ChildProcess | undefined;
  let daemonErr = "";
  const vmPids: number[] = [];
  try {
    await ns.check(["ip", "link", "set", "lo", "up"]);
    // The plugin's files, served over HTTP on the namespace's loopback.
    const www = `${dir}/www`;
    await Deno.mkdir(www);
    const image = volantStyleInitramfs();
    const sha = createHash("sha256").update(image).digest("hex");
    await Deno.writeFile(`${www}/plugin.cpio.gz`, image);
    await Deno.writeTextFile(`${www}/caddy.json`, JSON.stringify(manifest(sha), null, 2));
    // The same plugin with Volant's empty checksum: needs --allow-unverified.
    const unverified = manifest("");
    unverified.name = "caddy-unverified";
    await Deno.writeTextFile(`${www}/unverified.json`, JSON.stringify(unverified));
    const port = 18000 + (Deno.pid % 1000);
    files = spawnIn(ns, ["busybox", "httpd", "-f", "-p", `127.0.0.1:${port}`, "-h", www]);
    const base = `http://127.0.0.1:${port}`;

    const agentImage = `${dir}/agent.img`; // never attached to a Volant-contract VM
    await Deno.writeFile(agentImage, new Uint8Array(1024 * 1024));
    await Deno.writeTextFile(`${dir}/volantd.toml`, "");
    daemon = spawnIn(ns, [
      Deno.execPath(),
      "run",
      "-A",
      MAIN,
      "volantd",
      ...["--state-dir", `${dir}/state`, "--socket", `${dir}/volantd.sock`],
      ...["--runtime-dir", `${dir}/run`, "--cache-dir", `${dir}/cache`],
      ...["--hypervisor", "qemu", "--kernel", kernel, "--agent-image", agentImage],
      ...["--bridge", "vbrqs0", "--subnet", "10.86.0.0/24", "--stop-grace-seconds", "2"],
    ], { NO_COLOR: "1", VOLANT_CONFIG: `${dir}/volantd.toml` });
    (async () => {
      const dec = new TextDecoder();
      for await (const c of daemon!.stderr) daemonErr += dec.decode(c, { stream: true });
    })();
    await until("volantd ready", async () => {
      const r = await volar(dir, ["vms", "list"]);
      return r.code === 0 ? true : undefined;
    }, 60_000);
    await until("file server ready", async () => {
      const r = await ns.run(["busybox", "wget", "-q", "-O", "/dev/null", `${base}/caddy.json`]);
      return r.code === 0 ? true : undefined;
    }, 10_000);

    // The Quick Start, as written.
    const refused = await volar(dir, [
      "plugins",
      "install",
      "--manifest",
      `${base}/unverified.json`,
    ]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /initramfs .* has no checksum .*--allow-unverified/);

    const install = await volar(dir, ["plugins", "install", "--manifest", `${base}/caddy.json`]);
    assert.equal(install.code, 0, install.stderr + daemonErr);
    assert.match(install.stdout, /plugin caddy 0\.1\.0 installed \(1 artifact/);

    const show = await volar(dir, ["plugins", "show", "caddy"]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /Boot contract: +volant \(own \/init and \/bin\/kestrel/);

    const create = await volar(dir, [
      ...["vms", "create", "web", "--plugin", "caddy", "--cpu", "2", "--memory", "512"],
    ]);
    assert.equal(create.code, 0, create.stderr + daemonErr);
    assert.match(create.stdout, /vm web created \(state running, ip 10\.86\.0\.100,/);

    const list = await volar(dir, ["vms", "list"]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^web +running +caddy +10\.86\.0\.100 /m);

    const get = await volar(dir, ["vms", "get", "web", "-o", "json"]);
    assert.equal(get.code, 0, get.stderr);
    const vm = JSON.parse(get.stdout);
    assert.deepEqual(vm.resources, { cpu_cores: 2, memory_mb: 512 });
    if (vm.pid) vmPids.push(vm.pid);

    const version = await volar(dir, ["version"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^volar \d+\.\d+\.\d+/);

    // Booted Volant's way: the kernel set eth0 from ip=, nothing else did.
    const healthy = await until("vm healthy", async () => {
      const r = await volar(dir, ["vms", "get", "web", "-o", "json"]);
      const v = r.code === 0 ? JSON.parse(r.stdout) : undefined;
      return v?.health === "healthy" ? v : undefined;
    }, 240_000);
    assert.equal(healthy.state, "running");
    const page = await ns.check(["busybox", "wget", "-q", "-O", "-", "http://10.86.0.100/"]);
    assert.equal(page.trim(), "volant-compat eth0 10.86.0.100/24");
    const cmdline = Deno.readTextFileSync(`/proc/${vm.pid}/cmdline`).split("\0").join(" ");
    assert.match(cmdline, /ip=10\.86\.0\.100::10\.86\.0\.1:255\.255\.255\.0:web:eth0:off/);
    assert.doesNotMatch(cmdline, /agent\.img/, "no agent disk");

    // The documented events are on the stream.
    const ev = await volar(dir, ["events", "-o", "json"]);
    assert.equal(ev.code, 0, ev.stderr);
    const types = ev.stdout.trim().split("\n").map((l) => JSON.parse(l).type);
    for (const t of ["plugin.installed", "vm.created", "vm.started", "vm.healthy"]) {
      assert.ok(types.includes(t), `${t} in ${types.join(",")}`);
    }

    const del = await volar(dir, ["vms", "delete", "web"]);
    assert.equal(del.code, 0, del.stderr);
    vmPids.length = 0; // the daemon ended it; its pid may be reused from here on
    const ev2 = await volar(dir, ["events", "-o", "json", "--type", "vm.stopped"]);
    assert.match(ev2.stdout, /vm\.stopped/);
  } finally {
    for (const p of [daemon, files]) if (p) await stopChild(p);
    for (const pid of vmPids) killIfAlive(pid); // only the VMM this test started
    await ns.delete();
    await Deno.remove(dir, { recursive: true });
  }
});
