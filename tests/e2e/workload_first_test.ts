/**
 * Workload first, booted for real under QEMU (host accelerator; TCG here) with
 * a NIC on a TAP in a namespace this test creates and deletes. The kernel
 * command line comes from volantd's own assembleCmdline (workloadFirst on), so
 * `volant.run` is what the daemon writes; the shim starts the workload before
 * kestrel and kestrel adopts it.
 *
 * 1. initramfs: the workload's page answers at the guest's address before
 *    kestrel's /healthz does (host clock), and started before kestrel joined
 *    (guest uptime: the workload's own line vs /v1/status); its env, cwd and
 *    user are the manifest's; its first line is on the serial console (what
 *    `volar vms logs` serves) and in /v1/logs; QMP powerdown -> clean exit 0.
 * 2. rootfs: the shim switches root first; the workload dies (exit 3) before
 *    kestrel is up -> kestrel reaps it and restarts it per on-failure; the
 *    page comes from the disk; powerdown -> exit 0, the filesystem is clean.
 *
 * Two boots, about 1-2 min on an idle 2-core host under TCG (plus the agent
 * image build on a cold cache).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  type AgentArtifacts,
  bootEntries,
  buildAgentArtifacts,
} from "../../scripts/agent_image.ts";
import { type CpioEntry, writeCpio } from "../../scripts/cpio_newc.ts";
import type { PluginManifest } from "../../src/manifest/mod.ts";
import { assembleCmdline, BASE_ARGS } from "../../src/service/cmdline.ts";
import { GUEST_IP, HOST_IP, qmp, sh, type TestNetns, withNetVm } from "./_net_vm.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const CACHE = Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant";
const BOOT_TIMEOUT_MS = 180_000;
const enc = new TextEncoder();
const PAGE = "<h1>workload first</h1>\n";

/** Prints one line with its uptime, env, cwd and ids; optionally dies once; then serves. */
const WORKLOAD = `#!/bin/sh
echo "WF-EARLY uptime=$(cut -d' ' -f1 /proc/uptime) uid=$(id -u) cwd=$(pwd) var=$WF_VAR"
if [ -n "$WF_DIE_FIRST" ] && [ ! -e /tmp/wf-died ]; then
  : > /tmp/wf-died
  echo "WF-DYING uptime=$(cut -d' ' -f1 /proc/uptime)"
  exit 3
fi
exec httpd -f -p 80 -h /www
`;

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

function manifest(rootfs: boolean, env: Record<string, string>): PluginManifest {
  return {
    name: "wf",
    version: "1.0.0",
    ...(rootfs
      ? { rootfs: { url: "https://example.invalid/wf.img" } }
      : { initramfs: { url: "https://example.invalid/wf.cpio.gz" } }),
    resources: { cpu_cores: 1, memory_mb: 512 },
    workload: {
      type: "http",
      base_url: "http://127.0.0.1:80",
      entrypoint: ["wf-workload"],
      env,
      workdir: "/www",
      user: "0:0",
      restart: "on-failure",
    },
    health_check: { endpoint: "/", timeout_ms: 60_000 },
  } as PluginManifest;
}

/** volantd's command line for this manifest, without the base args NetVm adds itself. */
async function cmdline(m: PluginManifest, rootfs: boolean): Promise<string> {
  const line = await assembleCmdline({
    manifest: m,
    ip: GUEST_IP,
    prefix: 24,
    gateway: HOST_IP,
    dns: [HOST_IP],
    hostname: "wf",
    boot: rootfs ? "rootfs" : "initramfs",
    rootfsDevice: rootfs ? "vdb" : undefined,
    rootfsFstype: rootfs ? "ext4" : undefined,
    agentDevice: "vda",
    workloadFirst: true,
  });
  assert.match(line, /volant\.run=/, "volantd wrote the workload for the shim");
  return line.split(" ").filter((a) => !(BASE_ARGS as readonly string[]).includes(a)).join(" ");
}

/** Polls `url` from the namespace until it answers 200; host ms since `t0`. */
async function firstOk(ns: TestNetns, url: string, t0: number, stop: () => boolean) {
  while (!stop()) {
    const [code] = await ns.get(url, 1);
    if (code === 200) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  return Infinity;
}

Deno.test("workload first e2e: initramfs — the workload answers before kestrel's /healthz, early logs kept, clean poweroff", async () => {
  const a = await agentArtifacts();
  const dir = await Deno.makeTempDir({ prefix: "wf-initrd-" });
  try {
    const initrd = join(dir, "wf.cpio.gz");
    const extra: CpioEntry[] = [
      { path: "www", type: "dir", mode: 0o755 },
      { path: "www/index.html", type: "file", data: enc.encode(PAGE), mode: 0o644 },
      { path: "usr/bin/wf-workload", type: "file", data: enc.encode(WORKLOAD), mode: 0o755 },
    ];
    const entries = await bootEntries(await Deno.readFile(a.shim));
    await Deno.writeFile(initrd, gzipSync(writeCpio([...entries, ...extra])));
    const m = manifest(false, { WF_VAR: "from-the-manifest" });
    await withNetVm({
      initrd,
      disks: [{ path: a.agentImage, readonly: true }],
      append: await cmdline(m, false),
    }, async (vm, ns) => {
      let done = false;
      const deadline = setTimeout(() => done = true, BOOT_TIMEOUT_MS);
      const [pageMs, healthMs] = await Promise.all([
        firstOk(ns, `http://${GUEST_IP}/`, vm.startedAt, () => done),
        firstOk(ns, `http://${GUEST_IP}:8080/healthz`, vm.startedAt, () => done),
      ]);
      clearTimeout(deadline);
      console.log(
        `host: page answered at ${pageMs.toFixed(0)} ms, /healthz at ${
          healthMs.toFixed(0)
        } ms after QEMU started`,
      );
      assert.ok(pageMs < healthMs, "the workload answered before kestrel was healthy");

      const text = await vm.console();
      assert.doesNotMatch(text, /workload-first skipped/);
      assert.match(
        text,
        /kestrel: workload adopted: pid \d+ \(\/usr\/bin\/wf-workload, started by/,
      );
      const early = /WF-EARLY uptime=([\d.]+) uid=0 cwd=\/www var=from-the-manifest/.exec(text);
      assert.ok(early, "the workload's first line (env, cwd, user) is on the serial console");
      const [, st] = await ns.get(`http://${GUEST_IP}:8080/v1/status`);
      const status = JSON.parse(st);
      const wf = status.boot.workload_first;
      console.log(
        `guest: ${JSON.stringify(wf)}, timings ${JSON.stringify(status.boot.timings_ms)}`,
      );
      assert.ok(Number(early[1]) * 1000 <= wf.agent_started_uptime_ms + 10);
      assert.ok(wf.workload_started_uptime_ms < wf.agent_joined_uptime_ms);
      assert.equal(status.workload.restarts, 0);
      assert.equal(status.health.state, "healthy");
      assert.equal(status.network.address, GUEST_IP);
      const [, logs] = await ns.get(`http://${GUEST_IP}:8080/v1/logs`);
      assert.match(logs, /^WF-EARLY uptime=/, "/v1/logs starts at the workload's first byte");
      const [code, body] = await ns.get(`http://${GUEST_IP}/`);
      assert.equal(code, 200);
      assert.equal(body, PAGE);

      await qmp(join(vm.dir, "qmp.sock"), "system_powerdown");
      assert.equal(await vm.waitExit(120_000), 0, "QEMU exits 0 on the guest's poweroff");
      const end = await vm.console();
      assert.match(end, /kestrel: workload stopped \(terminated\)/);
      assert.match(end, /kestrel: power off/);
      assert.doesNotMatch(end, /Kernel panic/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("workload first e2e: rootfs — shim switches root, a workload dead before kestrel is restarted per policy", async () => {
  const a = await agentArtifacts();
  const dir = await Deno.makeTempDir({ prefix: "wf-rootfs-" });
  try {
    const tree = join(dir, "tree");
    for (const d of ["bin", "usr/bin", "etc", "proc", "sys", "dev", "run", "tmp", "mnt", "www"]) {
      await Deno.mkdir(join(tree, d), { recursive: true });
    }
    await Deno.copyFile("/bin/busybox", join(tree, "bin/busybox"));
    await Deno.chmod(join(tree, "bin/busybox"), 0o755);
    for (const applet of ["sh", "httpd", "cut", "id", "cat", "sleep", "setsid"]) {
      await Deno.symlink("busybox", join(tree, "bin", applet));
    }
    await Deno.writeTextFile(join(tree, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    await Deno.writeTextFile(join(tree, "www/index.html"), "from the root disk\n");
    await Deno.writeTextFile(join(tree, "usr/bin/wf-workload"), WORKLOAD, { mode: 0o755 });
    await Deno.chmod(join(tree, "usr/bin/wf-workload"), 0o755);
    const disk = join(dir, "rootfs.img");
    await sh(["mke2fs", "-q", "-t", "ext4", "-d", tree, "-L", "rootfs", "-F", disk, "32M"]);
    const m = manifest(true, { WF_VAR: "rootfs", WF_DIE_FIRST: "1" });
    await withNetVm({
      initrd: a.bootInitramfs,
      disks: [{ path: a.agentImage, readonly: true }, { path: disk }],
      append: await cmdline(m, true),
    }, async (vm, ns) => {
      await vm.waitFor(/kestrel: ready in \d+ ms/, BOOT_TIMEOUT_MS);
      const text = await vm.console();
      assert.doesNotMatch(text, /workload-first skipped/);
      assert.doesNotMatch(text, /kestrel: switched root/, "the shim switched root, not kestrel");
      const dying = /WF-DYING uptime=([\d.]+)/.exec(text);
      assert.ok(dying, "run 1 printed its last line before dying");
      assert.match(text, /kestrel: workload adopted: pid (\d+)/);
      assert.match(text, /kestrel: workload exited: pid \d+, code 3/);
      assert.match(text, /kestrel: workload started: pid \d+ \(\/usr\/bin\/wf-workload\), run 2/);
      const [, st] = await ns.get(`http://${GUEST_IP}:8080/v1/status`);
      const status = JSON.parse(st);
      console.log(`guest: ${JSON.stringify(status.boot.workload_first)}`);
      assert.ok(
        Number(dying[1]) * 1000 < status.boot.workload_first.agent_started_uptime_ms,
        "run 1 died before kestrel was up",
      );
      assert.equal(status.boot.mode, "rootfs");
      assert.equal(status.workload.restarts, 1);
      assert.equal(status.workload.last_exit.code, 3);
      assert.equal(status.health.state, "healthy");
      const [code, body] = await ns.get(`http://${GUEST_IP}/`);
      assert.equal(code, 200);
      assert.equal(body, "from the root disk\n");
      await qmp(join(vm.dir, "qmp.sock"), "system_powerdown");
      assert.equal(await vm.waitExit(120_000), 0);
      assert.doesNotMatch(await vm.console(), /Kernel panic|remount \/ read-only:/);
    });
    const fsck = await sh(["e2fsck", "-fn", disk], false);
    assert.equal(fsck.code, 0, `e2fsck: ${fsck.out}${fsck.err}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
