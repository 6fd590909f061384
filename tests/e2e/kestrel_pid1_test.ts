/**
 * kestrel really running as PID 1 on the host, without a VM: a new PID,
 * mount and UTS namespace (`unshare -p -f -m -u --mount-proc`) inside a
 * network namespace this test creates (eth0 = one end of a veth; the other
 * end sits in a second test namespace acting as the host). In its private
 * mount namespace a test file is bind-mounted over /proc/cmdline (the
 * manifest) and over /etc/hosts (so the host's file is never touched).
 *
 * Exercises the PID-1 code paths for real: netlink network setup, the reaper
 * as init (orphans of the workload), SIGTERM -> graceful stop -> reboot(2)
 * RB_POWER_OFF, which in a PID namespace ends the namespace's init with
 * SIGINT (reboot(2)), so unshare reports that signal.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeManifest, type PluginManifest } from "../../src/manifest/mod.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const GUEST = "10.88.0.10";
const HOST = "10.88.0.1";

async function sh(cmd: string[], check = true) {
  const o = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const out = new TextDecoder().decode(o.stdout);
  const err = new TextDecoder().decode(o.stderr);
  if (check && !o.success) throw new Error(`${cmd.join(" ")}: ${err}`);
  return { code: o.code, out, err };
}

async function requireTools(): Promise<void> {
  for (const [tool, pkg] of [["ip", "iproute2"], ["unshare", "util-linux"], ["curl", "curl"]]) {
    if ((await sh(["sh", "-c", `command -v ${tool}`], false)).code !== 0) {
      throw new Error(`${tool} missing: apt-get install -y ${pkg}`);
    }
  }
  if ((await Deno.lstat("/etc/hosts")).isSymlink) {
    throw new Error("/etc/hosts is a symlink here: this test only bind-mounts over regular files");
  }
}

function children(pid: number): number[] {
  const out: number[] = [];
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    const text = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim();
    if (text) out.push(...text.split(" ").map(Number));
  }
  return out;
}

function zombieChildrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (f[0] === "Z" && Number(f[1]) === pid) out.push(Number(e.name));
  }
  return out;
}

Deno.test("kestrel as PID 1 in namespaces: netlink setup, reaping orphans, SIGTERM -> poweroff", async () => {
  await requireTools();
  const guestNs = `kpid1g${Deno.pid}`;
  const hostNs = `kpid1h${Deno.pid}`;
  const dir = await Deno.makeTempDir({ prefix: "kestrel-pid1-" });
  await sh(["ip", "netns", "add", guestNs]);
  await sh(["ip", "netns", "add", hostNs]);
  let child: Deno.ChildProcess | null = null;
  try {
    await sh(["ip", "-n", guestNs, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"]);
    await sh(["ip", "-n", guestNs, "link", "set", "peer0", "netns", hostNs]);
    await sh(["ip", "-n", hostNs, "addr", "add", `${HOST}/24`, "dev", "peer0"]);
    await sh(["ip", "-n", hostNs, "link", "set", "peer0", "up"]);

    const www = join(dir, "www");
    await Deno.mkdir(join(www, "cgi-bin"), { recursive: true });
    await Deno.writeTextFile(join(www, "index.html"), "pid1 page\n");
    // Five background sleeps outlive the CGI: orphans that only PID 1 can reap.
    await Deno.writeTextFile(
      join(www, "cgi-bin/orphans"),
      "#!/bin/sh\nfor i in 1 2 3 4 5; do (sleep 0.2 &) ; done\n" +
        "echo 'Content-Type: text/plain'\necho\necho spawned\n",
    );
    await Deno.chmod(join(www, "cgi-bin/orphans"), 0o755);
    const manifest = {
      name: "pid1",
      version: "1",
      initramfs: { url: "https://example.invalid/x.cpio.gz" },
      resources: { cpu_cores: 1, memory_mb: 128 },
      workload: {
        type: "http",
        base_url: "http://127.0.0.1:80",
        entrypoint: ["busybox", "httpd", "-f", "-p", "80", "-h", www],
      },
      health_check: { endpoint: "/index.html", timeout_ms: 30_000 },
    } as PluginManifest;
    const cmdlineFile = join(dir, "cmdline");
    await Deno.writeTextFile(
      cmdlineFile,
      `console=ttyS0 volant.ip=${GUEST}/24 volant.gw=${HOST} volant.mtu=1400 ` +
        `volant.hostname=pid1-guest volant.manifest=${await encodeManifest(manifest)}\n`,
    );
    const hostsFile = join(dir, "hosts");
    await Deno.writeTextFile(hostsFile, "");
    const inner =
      `mount --bind ${cmdlineFile} /proc/cmdline && mount --bind ${hostsFile} /etc/hosts` +
      ` && exec ${Deno.execPath()} run -A ${join(REPO, "agent/main.ts")}`;
    child = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        guestNs,
        "unshare",
        "-p",
        "-f",
        "-m",
        "-u",
        "--mount-proc",
        "--propagation",
        "private",
        "sh",
        "-c",
        inner,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const log: string[] = [];
    const pump = (async () => {
      const dec = new TextDecoder();
      for await (const c of child!.stderr) log.push(dec.decode(c));
    })();
    const deadline = performance.now() + 60_000;
    while (!/kestrel: ready in \d+ ms/.test(log.join("")) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(log.join(""), /kestrel: ready in \d+ ms/);
    assert.match(
      log.join(""),
      /kestrel: network: eth0 10\.88\.0\.10\/24 via 10\.88\.0\.1 mtu 1400, hostname pid1-guest/,
    );

    // The network as the kernel sees it.
    const eth = JSON.parse((await sh(["ip", "-n", guestNs, "-j", "addr", "show", "eth0"])).out)[0];
    assert.equal(eth.mtu, 1400);
    assert.ok(eth.flags.includes("UP"));
    const route = JSON.parse(
      (await sh(["ip", "-n", guestNs, "-j", "route", "show", "default"])).out,
    );
    assert.equal(route[0].gateway, HOST);
    assert.match(await Deno.readTextFile(hostsFile), /10\.88\.0\.10\tpid1-guest/);

    // From the other namespace: the workload and the agent API.
    const curl = (url: string) =>
      sh(["ip", "netns", "exec", hostNs, "curl", "-s", "-m", "10", url]).then((r) => r.out);
    assert.equal(await curl(`http://${GUEST}/index.html`), "pid1 page\n");
    assert.equal(JSON.parse(await curl(`http://${GUEST}:8080/healthz`)).status, "ok");
    const status = JSON.parse(await curl(`http://${GUEST}:8080/v1/status`));
    assert.equal(status.network.address, GUEST);
    assert.equal(status.boot.mode, "initramfs");

    // kestrel's pid on the host: the child of unshare (sh exec'd deno).
    const unsharePid = child.pid; // ip netns exec execs unshare
    const [kestrelPid] = children(unsharePid);
    assert.ok(kestrelPid > 0);
    assert.equal(await curl(`http://${GUEST}/cgi-bin/orphans`), "spawned\n");
    await new Promise((r) => setTimeout(r, 1_500));
    assert.deepEqual(zombieChildrenOf(kestrelPid), [], "PID 1 reaped every orphan");
    const st2 = JSON.parse(await curl(`http://${GUEST}:8080/v1/status`));
    assert.equal(st2.workload.restarts, 0, "the reaper did not disturb the workload");

    Deno.kill(kestrelPid, "SIGTERM");
    const s = await child.status;
    await pump;
    child = null;
    const text = log.join("");
    assert.match(text, /kestrel: shutting down: SIGTERM received/);
    assert.match(text, /kestrel: workload stopped \(terminated\)/);
    assert.match(text, /kestrel: power off/);
    // reboot(RB_POWER_OFF) in a PID namespace kills its init with SIGINT; unshare re-raises it.
    assert.ok(s.signal === "SIGINT" || s.code === 130, `unshare status ${JSON.stringify(s)}`);
  } finally {
    if (child) {
      child.kill("SIGKILL");
      await child.status;
    }
    await sh(["ip", "netns", "del", guestNs], false);
    await sh(["ip", "netns", "del", hostNs], false);
    await Deno.remove(dir, { recursive: true });
  }
});
