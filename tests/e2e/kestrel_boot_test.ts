/**
 * kestrel booted for real under QEMU with the host's accelerator decision
 * (microvm, PVH vmlinux) with a virtio
 * NIC on a TAP in a network namespace this test creates and deletes (bridge +
 * tap made with `ip` here; inside the guest kestrel configures eth0 itself
 * through netlink). Covers: an initramfs appliance (shim /init + busybox,
 * busybox httpd as the workload) with network, health gate, the page and the
 * agent API reachable from the namespace, a workload crash restarted per
 * policy, QMP system_powerdown -> clean poweroff (QEMU exits 0); the rootfs
 * path (ext4 disk, switch root, agent still at /volant/agent); a missing
 * manifest -> one console line and a poweroff.
 *
 * Needs the kernel (`deno task kernel`) and builds the agent image from
 * agent/main.ts with scripts/agent_image.ts (cached; `agent/current` untouched).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  type AgentArtifacts,
  bootEntries,
  buildAgentArtifacts,
} from "../../scripts/agent_image.ts";
import type { CpioEntry } from "../../scripts/cpio_newc.ts";
import { writeCpio } from "../../scripts/cpio_newc.ts";
import { encodeManifest, type PluginManifest } from "../../src/manifest/mod.ts";
import { guestKernel, hostQemuAccel, type QemuAccel, requireQemu } from "./_guest_vm.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const CACHE = Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant";
/** A loaded 2-core host under TCG: deno in the guest takes seconds; be generous, never infinite. */
const BOOT_TIMEOUT_MS = 180_000;
const HOST_IP = "10.99.0.1";
const GUEST_IP = "10.99.0.10";
const enc = new TextEncoder();

async function sh(
  cmd: string[],
  check = true,
): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const r = {
    code: o.code,
    out: new TextDecoder().decode(o.stdout),
    err: new TextDecoder().decode(o.stderr),
  };
  if (check && o.code !== 0) throw new Error(`${cmd.join(" ")} failed (${o.code}): ${r.err}`);
  return r;
}

async function requireTools(): Promise<void> {
  await requireQemu();
  for (const [tool, pkg] of [["ip", "iproute2"], ["curl", "curl"], ["mke2fs", "e2fsprogs"]]) {
    const ok = await sh(["sh", "-c", `command -v ${tool}`], false);
    if (ok.code !== 0) throw new Error(`${tool} missing: apt-get install -y ${pkg}`);
  }
}

let agent: AgentArtifacts | undefined;
async function agentArtifacts(): Promise<AgentArtifacts> {
  agent ??= await buildAgentArtifacts({
    kestrel: { kind: "entry", path: join(REPO, "agent/main.ts") },
    cacheDir: CACHE,
    setCurrent: false,
    log: () => {},
  });
  return agent;
}

/** A network namespace with bridge br0 (HOST_IP/24) and tap0 enslaved to it. */
class TestNetns {
  readonly name = `kst${Deno.pid}x${Math.floor(Math.random() * 1e6)}`;
  async create(): Promise<void> {
    await sh(["ip", "netns", "add", this.name]);
    const ip = (...a: string[]) => sh(["ip", "-n", this.name, ...a]);
    await ip("link", "set", "lo", "up");
    await ip("link", "add", "br0", "type", "bridge");
    await ip("addr", "add", `${HOST_IP}/24`, "dev", "br0");
    await ip("link", "set", "br0", "up");
    await ip("tuntap", "add", "tap0", "mode", "tap");
    await ip("link", "set", "tap0", "master", "br0");
    await ip("link", "set", "tap0", "up");
  }
  /** Runs `cmd` inside the namespace. */
  exec(cmd: string[], check = true) {
    return sh(["ip", "netns", "exec", this.name, ...cmd], check);
  }
  async delete(): Promise<void> {
    await sh(["ip", "netns", "del", this.name], false);
  }
}

/** GET from inside the namespace: [status, body]. */
async function get(ns: TestNetns, url: string): Promise<[number, string]> {
  const r = await ns.exec(["curl", "-s", "-m", "10", "-w", "\n%{http_code}", url], false);
  const cut = r.out.lastIndexOf("\n");
  return [Number(r.out.slice(cut + 1)) || 0, r.out.slice(0, cut)];
}

/** Minimal QMP client: greeting, qmp_capabilities, one command. */
async function qmp(socket: string, command: string): Promise<void> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  try {
    const reader = conn.readable.getReader();
    let buf = "";
    const dec = new TextDecoder();
    const readReply = async () => {
      for (;;) {
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          const line = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if ("return" in line || "error" in line || "QMP" in line) return line;
          continue; // an event
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("QMP socket closed");
        buf += dec.decode(value);
      }
    };
    await readReply(); // greeting
    await conn.write(enc.encode(JSON.stringify({ execute: "qmp_capabilities" }) + "\n"));
    await readReply();
    await conn.write(enc.encode(JSON.stringify({ execute: command }) + "\n"));
    const reply = await readReply();
    if (reply.error) throw new Error(`QMP ${command}: ${JSON.stringify(reply.error)}`);
    reader.releaseLock();
  } finally {
    conn.close();
  }
}

interface Boot {
  initrd: string;
  disks: { path: string; readonly?: boolean }[];
  append: string;
}

/** QEMU microvm inside the namespace (ip netns exec execs, so the pid is QEMU's). */
class NetVm {
  readonly dir: string;
  readonly child: Deno.ChildProcess;
  readonly startedAt = performance.now();
  exited = false;
  readonly status: Promise<Deno.CommandStatus>;
  constructor(ns: TestNetns, dir: string, kernel: string, b: Boot, accel: QemuAccel) {
    this.dir = dir;
    const args = [
      "netns",
      "exec",
      ns.name,
      "qemu-system-x86_64",
      ...["-M", "microvm", ...accel.qemuArgs, "-smp", "1", "-m", "512M"],
      ...["-no-reboot", "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none"],
      ...["-kernel", kernel, "-initrd", b.initrd],
      "-append",
      ["console=ttyS0 panic=-1 reboot=t", ...accel.kernelArgs, b.append].join(" "),
      ...["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"],
      ...["-device", "virtio-net-device,netdev=n0"],
      "-chardev",
      `socket,id=ser0,path=${join(dir, "serial.sock")},server=on,wait=off,logfile=${
        join(dir, "serial.log")
      }`,
      ...["-serial", "chardev:ser0", "-qmp", `unix:${join(dir, "qmp.sock")},server=on,wait=off`],
    ];
    b.disks.forEach((d, i) => {
      const ro = d.readonly ? ",readonly=on" : "";
      args.push("-drive", `id=d${i},file=${d.path},format=raw,if=none${ro}`);
      args.push("-device", `virtio-blk-device,drive=d${i}`);
    });
    this.child = new Deno.Command("ip", { args, stdin: "null", stdout: "null", stderr: "piped" })
      .spawn();
    this.status = this.child.status.then((s) => {
      this.exited = true;
      return s;
    });
  }

  async console(): Promise<string> {
    try {
      return await Deno.readTextFile(join(this.dir, "serial.log"));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return "";
      throw e;
    }
  }

  async waitFor(re: RegExp, timeoutMs = BOOT_TIMEOUT_MS): Promise<RegExpExecArray> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const text = await this.console();
      const m = re.exec(text);
      if (m) return m;
      if (this.exited || performance.now() > deadline) {
        throw new Error(
          `${re} not on the console (${this.exited ? "VM exited" : "timeout"}):\n${
            text.slice(-3000)
          }`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async waitExit(timeoutMs: number): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const s = await Promise.race([
      this.status,
      new Promise<null>((r) => timer = setTimeout(() => r(null), timeoutMs)),
    ]);
    clearTimeout(timer);
    if (!s) {
      throw new Error(
        `QEMU still running after ${timeoutMs} ms:\n${(await this.console()).slice(-2000)}`,
      );
    }
    return s.code;
  }

  async kill(): Promise<void> {
    if (!this.exited) this.child.kill("SIGKILL");
    await this.status;
    await this.child.stderr.cancel();
  }
}

/** Types `line` on the serial console (a few times: busybox ash eats the first bytes). */
async function typeOnConsole(vm: NetVm, line: string, until: RegExp, ms: number): Promise<boolean> {
  const conn = await Deno.connect({ transport: "unix", path: join(vm.dir, "serial.sock") });
  try {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      await conn.write(enc.encode(`\n${line}\n`));
      await new Promise((r) => setTimeout(r, 500));
      if (until.test(await vm.console())) return true;
    }
    return false;
  } finally {
    conn.close();
  }
}

async function withVm(b: Boot, body: (vm: NetVm, ns: TestNetns) => Promise<void>): Promise<void> {
  await requireTools();
  const kernel = await guestKernel();
  const ns = new TestNetns();
  const dir = await Deno.makeTempDir({ prefix: "kestrel-boot-" });
  await ns.create();
  const vm = new NetVm(ns, dir, kernel, b, await hostQemuAccel());
  try {
    await body(vm, ns);
  } finally {
    await vm.kill();
    await ns.delete();
    await Deno.remove(dir, { recursive: true });
  }
}

const WWW_INDEX = "<h1>hello from the kestrel appliance</h1>\n";
/** CGI that answers, then kills httpd: a workload crash triggered from outside. */
const CRASH_CGI = "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho crashing\n" +
  "(sleep 0.3; killall -9 httpd) </dev/null >/dev/null 2>&1 &\n";

function webManifest(boot: "initramfs" | "rootfs"): PluginManifest {
  const medium = boot === "initramfs"
    ? { initramfs: { url: "https://example.invalid/web.cpio.gz" } }
    : { rootfs: { url: "https://example.invalid/web.img" } };
  return {
    name: "web",
    version: "1.0.0",
    ...medium,
    resources: { cpu_cores: 1, memory_mb: 512 },
    workload: {
      type: "http",
      base_url: "http://127.0.0.1:80",
      entrypoint: ["httpd", "-f", "-p", "80", "-h", "/www"],
      restart: "on-failure",
    },
    health_check: { endpoint: "/", timeout_ms: 60_000 },
  } as PluginManifest;
}

function netArgs(): string {
  return `volant.ip=${GUEST_IP}/24 volant.gw=${HOST_IP} volant.mtu=1400 ` +
    `volant.dns=${HOST_IP} volant.hostname=appliance`;
}

function wwwEntries(): CpioEntry[] {
  return [
    { path: "www", type: "dir", mode: 0o755 },
    { path: "www/cgi-bin", type: "dir", mode: 0o755 },
    { path: "www/index.html", type: "file", data: enc.encode(WWW_INDEX), mode: 0o644 },
    { path: "www/cgi-bin/crash", type: "file", data: enc.encode(CRASH_CGI), mode: 0o755 },
  ];
}

Deno.test("kestrel e2e: initramfs appliance — network, health, page + API from the netns, crash restart, QMP poweroff", async () => {
  const a = await agentArtifacts();
  const dir = await Deno.makeTempDir({ prefix: "kestrel-initrd-" });
  const initrd = join(dir, "appliance.cpio.gz");
  const entries = await bootEntries(await Deno.readFile(a.shim));
  await Deno.writeFile(initrd, gzipSync(writeCpio([...entries, ...wwwEntries()])));
  const manifest = await encodeManifest(webManifest("initramfs"));
  try {
    await withVm({
      initrd,
      disks: [{ path: a.agentImage, readonly: true }],
      append: `volant.boot=auto volant.debug_shell=1 ${netArgs()} volant.manifest=${manifest}`,
    }, async (vm, ns) => {
      const ready = await vm.waitFor(/kestrel: ready in (\d+) ms/);
      console.log(`guest: kestrel ready in ${ready[1]} ms (kestrel's clock)`);
      const text = await vm.console();
      assert.match(
        text,
        /kestrel: network: eth0 10\.99\.0\.10\/24 via 10\.99\.0\.1 mtu 1400, hostname appliance/,
      );

      // volant.debug_shell=1: a root shell answers on the serial console.
      assert.match(text, /kestrel: debug shell enabled on \/dev\/ttyS0/);
      assert.ok(
        await typeOnConsole(vm, "echo DEBUG-$((6*7))", /DEBUG-42/, 30_000),
        "the debug shell ran a command",
      );

      // The workload itself, straight from the namespace at the VM's address.
      const [code, body] = await get(ns, `http://${GUEST_IP}/`);
      assert.equal(code, 200);
      assert.equal(body, WWW_INDEX);

      // The agent API.
      const [hc, hz] = await get(ns, `http://${GUEST_IP}:8080/healthz`);
      assert.equal(hc, 200);
      assert.equal(JSON.parse(hz).status, "ok");
      const [, st] = await get(ns, `http://${GUEST_IP}:8080/v1/status`);
      const status = JSON.parse(st);
      console.log(
        `guest: kestrel timings (ms since deno started) ${JSON.stringify(status.boot.timings_ms)}`,
      );
      assert.equal(status.manifest.name, "web");
      assert.equal(status.boot.mode, "initramfs");
      assert.equal(status.network.address, GUEST_IP);
      assert.equal(status.network.gateway, HOST_IP);
      assert.equal(status.workload.restarts, 0);
      const [pc, proxied] = await get(ns, `http://${GUEST_IP}:8080/v1/`);
      assert.equal(pc, 200);
      assert.equal(proxied, WWW_INDEX);

      // Crash the workload (killall -9 httpd from a CGI): restarted per on-failure.
      const [cc] = await get(ns, `http://${GUEST_IP}/cgi-bin/crash`);
      assert.equal(cc, 200);
      await vm.waitFor(/kestrel: workload exited: pid \d+, signal SIGKILL/, 60_000);
      await vm.waitFor(/kestrel: workload started: pid \d+ \(\S*httpd\), run 2/, 60_000);
      await vm.waitFor(/kestrel: workload healthy again/, 60_000);
      const [, st2] = await get(ns, `http://${GUEST_IP}:8080/v1/status`);
      assert.equal(JSON.parse(st2).workload.restarts, 1);
      const [code2, body2] = await get(ns, `http://${GUEST_IP}/`);
      assert.equal(code2, 200);
      assert.equal(body2, WWW_INDEX);

      // ACPI power button via QMP: graceful stop, then poweroff -> QEMU exits 0.
      await qmp(join(vm.dir, "qmp.sock"), "system_powerdown");
      assert.equal(await vm.waitExit(120_000), 0, "QEMU exits 0 on the guest's poweroff");
      const end = await vm.console();
      assert.match(end, /kestrel: shutting down: power button pressed/);
      assert.match(end, /kestrel: workload stopped \(terminated\)/);
      assert.match(end, /kestrel: power off/);
      assert.doesNotMatch(end, /Kernel panic/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kestrel e2e: rootfs path — ext4 disk, switch root, workload from the disk, clean poweroff", async () => {
  const a = await agentArtifacts();
  const dir = await Deno.makeTempDir({ prefix: "kestrel-rootfs-" });
  try {
    const tree = join(dir, "tree");
    for (const d of ["bin", "etc", "proc", "sys", "dev", "run", "tmp", "mnt", "www/cgi-bin"]) {
      await Deno.mkdir(join(tree, d), { recursive: true });
    }
    await Deno.copyFile("/bin/busybox", join(tree, "bin/busybox"));
    await Deno.chmod(join(tree, "bin/busybox"), 0o755);
    for (const applet of ["sh", "httpd", "killall", "sleep", "setsid", "cat"]) {
      await Deno.symlink("busybox", join(tree, "bin", applet));
    }
    await Deno.writeTextFile(join(tree, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    await Deno.writeTextFile(join(tree, "etc/hosts"), "127.0.0.1 localhost\n");
    await Deno.writeTextFile(join(tree, "www/index.html"), "<h1>served from the root disk</h1>\n");
    await Deno.writeTextFile(join(tree, "www/rootfs-marker"), "vdb\n");
    const disk = join(dir, "rootfs.img");
    await sh(["mke2fs", "-q", "-t", "ext4", "-d", tree, "-L", "rootfs", "-F", disk, "32M"]);
    const manifest = await encodeManifest(webManifest("rootfs"));
    await withVm({
      initrd: a.bootInitramfs,
      disks: [{ path: a.agentImage, readonly: true }, { path: disk }],
      // auto + a manifest with a rootfs = switch root to vdb.
      append: `volant.boot=auto ${netArgs()} volant.manifest=${manifest}`,
    }, async (vm, ns) => {
      await vm.waitFor(/kestrel: ready in (\d+) ms/);
      const text = await vm.console();
      assert.match(text, /kestrel: switched root to \/dev\/vdb \(ext4\)/);
      const [code, body] = await get(ns, `http://${GUEST_IP}/rootfs-marker`);
      assert.equal(code, 200);
      assert.equal(body, "vdb\n");
      const [, st] = await get(ns, `http://${GUEST_IP}:8080/v1/status`);
      const status = JSON.parse(st);
      console.log(
        `guest: kestrel timings (ms since deno started) ${JSON.stringify(status.boot.timings_ms)}`,
      );
      assert.equal(status.boot.mode, "rootfs");
      assert.ok(status.boot.timings_ms.rootfs > 0);
      assert.match(status.network.etc, /hosts:written/);
      // No volant.debug_shell: nothing on the console executes what is typed.
      assert.equal(await typeOnConsole(vm, "echo DEBUG-$((6*7))", /DEBUG-42/, 3_000), false);
      assert.doesNotMatch(await vm.console(), /debug shell enabled/);
      await qmp(join(vm.dir, "qmp.sock"), "system_powerdown");
      assert.equal(await vm.waitExit(120_000), 0);
      assert.doesNotMatch(await vm.console(), /Kernel panic|remount \/ read-only:/);
    });
    // Synced and remounted read-only before poweroff: the filesystem is clean, and kestrel's
    // /etc/hosts landed on the disk.
    const fsck = await sh(["e2fsck", "-fn", disk], false);
    assert.equal(fsck.code, 0, `e2fsck: ${fsck.out}${fsck.err}`);
    const hosts = await sh(["debugfs", "-R", "cat /etc/hosts", disk]);
    assert.match(hosts.out, /10\.99\.0\.10\tappliance/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kestrel e2e: no manifest -> one console line, then poweroff (QEMU exits 0)", async () => {
  const a = await agentArtifacts();
  await withVm({
    initrd: a.bootInitramfs,
    disks: [{ path: a.agentImage, readonly: true }],
    append: `volant.boot=initramfs ${netArgs()}`,
  }, async (vm) => {
    assert.equal(await vm.waitExit(BOOT_TIMEOUT_MS), 0);
    const lines = (await vm.console()).split(/\r?\n/).filter((l) => l.startsWith("kestrel:"));
    assert.deepEqual(lines.filter((l) => l.includes("fatal")), [
      "kestrel: fatal: volant.manifest is missing from the kernel command line",
    ]);
    assert.doesNotMatch(await vm.console(), /Kernel panic/);
  });
});
