/**
 * The whole journey as a user meets it, for real: a volantd inside a network
 * namespace this test creates, plugins built by fledge or written by hand,
 * VMs booted under QEMU, everything driven through `volar`. On failure the
 * serial logs and the daemon log are kept in test-artifacts/e2e/.
 */
import assert from "node:assert/strict";
import { prepareHost } from "../../scripts/journey/prepare.ts";
import { Sandbox } from "../../scripts/journey/sandbox.ts";
import { REPO } from "../../scripts/_repo.ts";

interface Vm {
  name: string;
  state: string;
  health: string;
  ip: string;
  mac: string;
  plugin: string;
  tap: string;
  machine: string;
}

const KEEP_LOGS = `${REPO}/test-artifacts/e2e`;

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function must(cmd: string[]): Promise<string> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`${cmd.join(" ")}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

async function waitFor(sb: Sandbox, name: string, want: (vm: Vm) => boolean, ms = 240_000) {
  const deadline = Date.now() + ms;
  let vm: Vm | null = null;
  while (Date.now() < deadline) {
    vm = await sb.volarJson<Vm>(["vms", "show", name]);
    if (want(vm)) return vm;
    if (vm.state === "crashed") break;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`VM ${name}: wanted state not reached, last ${JSON.stringify(vm)}`);
}

const healthy = (vm: Vm) => vm.state === "running" && vm.health === "healthy";

/** `volar vms create` then wait until healthy. */
async function createHealthy(sb: Sandbox, name: string, args: string[]): Promise<Vm> {
  const r = await sb.volar(["vms", "create", name, ...args]);
  assert.equal(r.code, 0, `vms create ${name}: ${r.stderr}`);
  return await waitFor(sb, name, healthy);
}

/** VMM processes whose command line names the sandbox runtime dir of `name`. */
async function vmmPids(sb: Sandbox, name: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (cmd.includes(`${sb.runtimeDir}/${name}/`)) pids.push(Number(e.name));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return pids;
}

async function netnsLinks(sb: Sandbox): Promise<string[]> {
  const r = await sb.inNetns(["ip", "-j", "link", "show"]);
  return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname);
}

/** Attaches `volar vms console`, sends `input`, collects output until `until` matches. */
async function consoleExchange(sb: Sandbox, name: string, input: string, until: RegExp) {
  const child = new Deno.Command(`${sb.binDir}/volar`, {
    args: ["--socket", sb.socket, "vms", "console", name],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  let text = "";
  const reader = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stdout) {
      text += dec.decode(chunk, { stream: true });
      if (until.test(text)) break;
    }
  })();
  // busybox ash eats the first bytes it reads after its prompt query: send newlines first.
  for (let i = 0; i < 3; i++) {
    await writer.write(new TextEncoder().encode("\n"));
    await new Promise((r) => setTimeout(r, 500));
  }
  await writer.write(new TextEncoder().encode(input));
  const timeout = new Promise((r) => setTimeout(r, 30_000));
  await Promise.race([reader, timeout]);
  // Ctrl-] detaches; volar may already have exited (then the pipe is closed).
  await writer.write(new Uint8Array([0x1d])).catch(expectClosedPipe);
  await writer.close().catch(expectClosedPipe);
  const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await child.status;
  clearTimeout(killer);
  await child.stderr.cancel();
  return text;
}

/** The only error expected when writing to a process that already exited. */
function expectClosedPipe(e: unknown): void {
  if (!(e instanceof Deno.errors.BrokenPipe) && !(e instanceof TypeError)) throw e;
}

/** A rootfs image (ext4) holding busybox and a page, built rootlessly with mke2fs -d. */
async function buildRootfs(dir: string): Promise<string> {
  const tree = `${dir}/rootfs-tree`;
  for (const d of ["bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "run", "srv/www", "mnt"]) {
    await Deno.mkdir(`${tree}/${d}`, { recursive: true });
  }
  await Deno.copyFile("/bin/busybox", `${tree}/bin/busybox`);
  await Deno.chmod(`${tree}/bin/busybox`, 0o755);
  for (const applet of ["sh", "httpd", "wget", "cat", "ls"]) {
    await Deno.symlink("busybox", `${tree}/bin/${applet}`);
  }
  await Deno.writeTextFile(`${tree}/srv/www/index.html`, "<h1>hello from a rootfs</h1>\n");
  const img = `${dir}/rootfs.img`;
  await must(["mke2fs", "-q", "-t", "ext4", "-d", tree, "-E", "root_owner=0:0", img, "32M"]);
  return img;
}

Deno.test({
  name: "journey: fledge -> volantd -> QEMU microVM -> workload at its IP, driven by volar",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  if (Deno.uid() !== 0) throw new Error("e2e tests need root (netns, TAP): run as root");
  const artifacts = await prepareHost();
  const sb = await Sandbox.create({ artifacts, prefix: "volant-e2e" });
  let ok = false;
  try {
    await sb.startDaemon();
    const dist = `${sb.dir}/dist`;
    const manifestPath = await sb.buildExample();

    await t.step(
      "plugin install: a bad checksum installs nothing and says expected vs actual",
      async () => {
        const m = JSON.parse(await Deno.readTextFile(manifestPath));
        m.name = "bad-sum";
        m.initramfs.checksum = "sha256:" + "0".repeat(64);
        const badPath = `${dist}/bad-sum.manifest.json`;
        await Deno.writeTextFile(badPath, JSON.stringify(m));
        const r = await sb.volar(["plugins", "install", badPath]);
        assert.equal(r.code, 6, `exit ${r.code}: ${r.stderr}`);
        assert.match(r.stderr, /expected[^\n]*0{64}/i);
        const list = await sb.volarJson<{ name: string }[]>(["plugins", "list"]);
        assert.ok(!list.some((p) => p.name === "bad-sum"));
      },
    );

    await t.step("plugin install: the fledge-built manifest installs unchanged", async () => {
      const r = await sb.volar(["plugins", "install", manifestPath]);
      assert.equal(r.code, 0, r.stderr);
      const list = await sb.volarJson<{ name: string; enabled: boolean }[]>(["plugins", "list"]);
      assert.ok(list.some((p) => p.name === "static-http" && p.enabled));
    });

    let web: Vm;
    await t.step("vms create / list / show, until healthy", async () => {
      web = await createHealthy(sb, "web", ["--plugin", "static-http"]);
      assert.match(web.ip, /^192\.168\.127\.\d+$/);
      assert.match(web.mac, /^02(:[0-9a-f]{2}){5}$/);
      assert.equal(web.plugin, "static-http");
      const list = await sb.volarJson<Vm[]>(["vms", "list"]);
      assert.deepEqual(list.map((v) => v.name), ["web"]);
    });

    await t.step("HTTP at the VM's IP and through the API's proxy route", async () => {
      const page = await sb.fetchInNetns(`http://${web.ip}/`);
      assert.match(page, /static-http|<html|<h1/i);
      const client = Deno.createHttpClient({ proxy: { transport: "unix", path: sb.socket } });
      try {
        const res = await fetch("http://volantd/api/v1/vms/web/agent/v1/", { client });
        assert.equal(res.status, 200);
        assert.equal(await res.text(), page);
      } finally {
        client.close();
      }
    });

    await t.step("logs hold the workload's output", async () => {
      await sb.fetchInNetns(`http://${web.ip}/index.html`);
      const deadline = Date.now() + 15_000;
      let logs = "";
      while (Date.now() < deadline) {
        const r = await sb.volar(["vms", "logs", "web"]);
        assert.equal(r.code, 0, r.stderr);
        logs = r.stdout;
        if (/kestrel: ready/.test(logs) && /response:200|GET \/index\.html/.test(logs)) return;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.fail(`logs lack kestrel's ready line or httpd's request line:\n${logs.slice(-2000)}`);
    });

    await t.step("console attach sees the guest's output", async () => {
      // Requesting a page makes the workload print to the console while we are attached.
      // Asked again every few seconds: on a loaded host volar may attach after the first one.
      let attached = true;
      const fetching = (async () => {
        for (let i = 0; attached && i < 8; i++) {
          await new Promise((r) => setTimeout(r, 2000));
          await sb.fetchInNetns(`http://${web.ip}/console-probe`).catch(() => "");
        }
      })();
      // busybox httpd -v logs `<peer>: response:404` for the missing page.
      const text = await consoleExchange(sb, "web", "", /response:404/);
      attached = false;
      await fetching;
      assert.match(text, /response:404/);
    });

    await t.step("stop then start keeps the same IP; restart", async () => {
      let r = await sb.volar(["vms", "stop", "web"]);
      assert.equal(r.code, 0, r.stderr);
      const stopped = await sb.volarJson<Vm>(["vms", "show", "web"]);
      assert.equal(stopped.state, "stopped");
      assert.deepEqual(await vmmPids(sb, "web"), []);
      r = await sb.volar(["vms", "start", "web"]);
      assert.equal(r.code, 0, r.stderr);
      const again = await waitFor(sb, "web", healthy);
      assert.equal(again.ip, web.ip);
      assert.equal(again.mac, web.mac);
      const pidsBefore = await vmmPids(sb, "web");
      r = await sb.volar(["vms", "restart", "web"]);
      assert.equal(r.code, 0, r.stderr);
      const restarted = await waitFor(sb, "web", healthy);
      assert.equal(restarted.ip, web.ip);
      assert.notDeepEqual(await vmmPids(sb, "web"), pidsBefore);
      await sb.fetchInNetns(`http://${web.ip}/`);
    });

    await t.step("two VMs at once get distinct IPs and reach each other", async () => {
      const peer = await createHealthy(sb, "peer", [
        "--plugin",
        "static-http",
        "--kernel-cmdline",
        "volant.debug_shell=1",
      ]);
      assert.notEqual(peer.ip, web.ip);
      const out = await consoleExchange(
        sb,
        "peer",
        `wget -q -O - http://${web.ip}/ >/dev/null && echo PEER-REACHED-$((6*7))\n`,
        /PEER-REACHED-42/,
      );
      assert.match(out, /PEER-REACHED-42/);
    });

    await t.step("delete releases the lease, removes the TAP and leaves no qemu", async () => {
      const peer = await sb.volarJson<Vm>(["vms", "show", "peer"]);
      assert.ok((await netnsLinks(sb)).includes(peer.tap));
      const r = await sb.volar(["vms", "delete", "peer"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await vmmPids(sb, "peer"), []);
      assert.ok(!(await netnsLinks(sb)).includes(peer.tap), "TAP removed");
      const shown = await sb.volar(["vms", "show", "peer"]);
      assert.equal(shown.code, 3);
      // The released address is the lowest free one again.
      const r2 = await sb.volar([
        "vms",
        "create",
        "again",
        "--plugin",
        "static-http",
        "--no-start",
      ]);
      assert.equal(r2.code, 0, r2.stderr);
      const again = await sb.volarJson<Vm>(["vms", "show", "again"]);
      assert.equal(again.ip, peer.ip);
      assert.equal((await sb.volar(["vms", "delete", "again"])).code, 0);
    });

    await t.step("q35 (virtio-pci) variant boots and serves", async () => {
      const vm = await createHealthy(sb, "pci", ["--plugin", "static-http", "--machine", "q35"]);
      assert.equal(vm.machine, "q35");
      await sb.fetchInNetns(`http://${vm.ip}/`);
      assert.equal((await sb.volar(["vms", "delete", "pci"])).code, 0);
    });

    await t.step("rootfs path: ext4 root disk, switch root, workload from the disk", async () => {
      const dir = `${sb.dir}/rootfs-plugin`;
      await Deno.mkdir(dir, { recursive: true });
      const img = await buildRootfs(dir);
      const manifest = {
        schema_version: "1.0",
        name: "rootfs-http",
        version: "0.1.0",
        rootfs: { url: "rootfs.img", checksum: `sha256:${await sha256(img)}`, format: "raw" },
        resources: { cpu_cores: 1, memory_mb: 256 },
        workload: {
          type: "http",
          base_url: "http://127.0.0.1:80",
          entrypoint: ["/bin/httpd", "-f", "-p", "80", "-h", "/srv/www"],
        },
        health_check: { endpoint: "/", timeout_ms: 10000 },
      };
      await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(manifest, null, 2));
      const r = await sb.volar(["plugins", "install", `${dir}/manifest.json`]);
      assert.equal(r.code, 0, r.stderr);
      const vm = await createHealthy(sb, "rootvm", ["--plugin", "rootfs-http"]);
      assert.match(await sb.fetchInNetns(`http://${vm.ip}/`), /hello from a rootfs/);
      assert.equal((await sb.volar(["vms", "delete", "rootvm"])).code, 0);
    });

    await t.step(
      "a hand-written Volant manifest with its initramfs served over HTTP on loopback",
      async () => {
        const dir = `${sb.dir}/served`;
        await Deno.mkdir(dir, { recursive: true });
        const built = JSON.parse(await Deno.readTextFile(manifestPath));
        const cpio = `${dist}/${built.initramfs.url}`;
        await Deno.copyFile(cpio, `${dir}/plugin.cpio.gz`);
        // Shaped like the caddy example of Volant's introduction.
        const manifest = {
          schema_version: "1.0",
          name: "handmade",
          version: "0.1.0",
          runtime: "handmade",
          enabled: true,
          initramfs: {
            url: "http://127.0.0.1:18080/plugin.cpio.gz",
            checksum: `sha256:${await sha256(cpio)}`,
          },
          resources: { cpu_cores: 1, memory_mb: 256 },
          workload: {
            type: "http",
            entrypoint: ["/bin/httpd", "-f", "-p", "80", "-h", "/srv/www"],
            base_url: "http://127.0.0.1:80",
            env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
          },
          health_check: { endpoint: "/", timeout_ms: 10000 },
        };
        await Deno.writeTextFile(`${dir}/handmade.json`, JSON.stringify(manifest, null, 2));
        // The server runs inside the namespace: that is where the daemon's loopback is.
        const server = new Deno.Command("ip", {
          args: [
            "netns",
            "exec",
            sb.netns,
            "busybox",
            "httpd",
            "-f",
            "-p",
            "127.0.0.1:18080",
            "-h",
            dir,
          ],
          stdout: "null",
          stderr: "null",
        }).spawn();
        try {
          await new Promise((r) => setTimeout(r, 500));
          const r = await sb.volar(["plugins", "install", `${dir}/handmade.json`]);
          assert.equal(r.code, 0, r.stderr);
          const vm = await createHealthy(sb, "handmade", ["--plugin", "handmade"]);
          await sb.fetchInNetns(`http://${vm.ip}/`);
        } finally {
          server.kill("SIGTERM");
          await server.status;
        }
      },
    );
    ok = true;
  } finally {
    if (!ok) {
      const kept = await sb.keepSerialLogs(KEEP_LOGS);
      console.error(`journey: logs kept: ${kept.join(", ")}`);
    }
    await sb.close();
  }
});
