/**
 * DHCP mode booted for real: Debian's dnsmasq serves DHCP on a bridge in a
 * network namespace this test creates and deletes; a QEMU guest (kestrel,
 * `volant.network=dhcp`, no `volant.ip`) gets its address, route, DNS and
 * hostname from the lease and renews it (dnsmasq's shortest lease, 2 min:
 * udhcpc renews after 1 min). One boot for every check. Takes about 2 min
 * (most of it waiting for the renewal).
 *
 * Needs the kernel (`deno task kernel`), qemu, dnsmasq (`apt-get install -y
 * dnsmasq-base`) and builds the agent image from agent/main.ts (cached).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { bootEntries, buildAgentArtifacts } from "../../scripts/agent_image.ts";
import { writeCpio } from "../../scripts/cpio_newc.ts";
import { encodeManifest, type PluginManifest } from "../../src/manifest/mod.ts";
import { NetVm, requireTools, TestNetns } from "./_net_vm.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const CACHE = Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant";
const HOST = "10.98.0.1";
const LEASED = "10.98.0.55";
const MAC = "02:fe:0d:4c:00:55";
const enc = new TextEncoder();

/** Ends a process this test started, by its pid; an already-exited one is fine. */
async function stopByPid(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
  }
  await child.status;
  await child.stderr.cancel();
}

const INFO_CGI = "#!/bin/sh\necho 'Content-Type: text/plain'\necho\n" +
  "echo host=$(hostname)\ncat /etc/resolv.conf\nip route\nip -4 addr show eth0\n";

const manifest: PluginManifest = {
  name: "dhcpweb",
  version: "1.0.0",
  initramfs: { url: "https://example.invalid/web.cpio.gz" },
  resources: { cpu_cores: 1, memory_mb: 512 },
  workload: {
    type: "http",
    base_url: "http://127.0.0.1:80",
    entrypoint: ["httpd", "-f", "-p", "80", "-h", "/www"],
  },
  network: { mode: "dhcp" },
} as PluginManifest;

Deno.test("dhcp e2e: dnsmasq on a test bridge leases eth0's address, route, DNS and hostname; kestrel renews", async () => {
  await requireTools([["dnsmasq", "dnsmasq-base"], ["mke2fs", "e2fsprogs"]]);
  const agent = await buildAgentArtifacts({
    kestrel: { kind: "entry", path: join(REPO, "agent/main.ts") },
    cacheDir: CACHE,
    setCurrent: false,
    log: () => {},
  });
  const dir = await Deno.makeTempDir({ prefix: "dhcp-e2e-" });
  const ns = new TestNetns(`${HOST}/24`);
  let dnsmasq: Deno.ChildProcess | undefined;
  let vm: NetVm | undefined;
  try {
    const initrd = join(dir, "web.cpio.gz");
    const entries = await bootEntries(await Deno.readFile(agent.shim));
    await Deno.writeFile(
      initrd,
      gzipSync(writeCpio([
        ...entries,
        { path: "www", type: "dir", mode: 0o755 },
        { path: "www/cgi-bin", type: "dir", mode: 0o755 },
        { path: "www/index.html", type: "file", data: enc.encode("leased\n"), mode: 0o644 },
        { path: "www/cgi-bin/info", type: "file", data: enc.encode(INFO_CGI), mode: 0o755 },
      ])),
    );
    await ns.create();
    dnsmasq = new Deno.Command("ip", {
      args: [
        ...["netns", "exec", ns.name, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null"],
        ...["--no-resolv", "--no-hosts", "--port=0", "--interface=br0", "--bind-interfaces"],
        "--user=root",
        "--pid-file=",
        `--dhcp-leasefile=${join(dir, "leases")}`,
        "--dhcp-range=10.98.0.50,10.98.0.60,255.255.255.0,2m",
        `--dhcp-host=${MAC},${LEASED},leasedhost`,
        `--dhcp-option=option:router,${HOST}`,
        `--dhcp-option=option:dns-server,${HOST}`,
        "--log-dhcp",
        "--log-facility=-",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    vm = await NetVm.start(ns, dir, {
      initrd,
      mac: MAC,
      disks: [{ path: agent.agentImage, readonly: true }],
      append: `volant.boot=initramfs volant.network=dhcp volant.hostname=fromcmdline ` +
        `volant.manifest=${await encodeManifest(manifest)}`,
    });
    const bound = await vm.waitFor(
      /kestrel: dhcp bound: (\S+) via (\S+) lease (\d+)s, hostname (\S+)/,
      240_000,
    );
    const boundAt = performance.now();
    assert.deepEqual(bound.slice(1), [`${LEASED}/24`, HOST, "120", "leasedhost"]);
    await vm.waitFor(/kestrel: ready in \d+ ms/, 120_000);

    // From the namespace: the agent at the leased address, and the guest's own view.
    const [sc, st] = await ns.get(`http://${LEASED}:8080/v1/status`);
    assert.equal(sc, 200);
    const net = JSON.parse(st).network;
    assert.equal(net.address, LEASED);
    assert.equal(net.gateway, HOST);
    assert.deepEqual(net.dns, [HOST]);
    assert.equal(net.hostname, "leasedhost");
    assert.equal(net.dhcp.leases, 1);
    const [ic, info] = await ns.get(`http://${LEASED}/cgi-bin/info`);
    assert.equal(ic, 200);
    assert.match(info, /^host=leasedhost$/m);
    assert.match(info, new RegExp(`^nameserver ${HOST.replaceAll(".", "\\.")}$`, "m"));
    assert.match(info, new RegExp(`^default via ${HOST.replaceAll(".", "\\.")} dev eth0`, "m"));
    assert.match(info, new RegExp(`inet ${LEASED.replaceAll(".", "\\.")}/24`));
    assert.match(await Deno.readTextFile(join(dir, "leases")), new RegExp(`${MAC} ${LEASED}`));

    // udhcpc renews at half the lease (60 s); kestrel applies the renewal.
    await vm.waitFor(/kestrel: dhcp renew: 10\.98\.0\.55\/24/, 150_000);
    console.log(
      `renewed ${Math.round((performance.now() - boundAt) / 1000)} s after the first lease`,
    );
    const [, again] = await ns.get(`http://${LEASED}:8080/v1/status`);
    assert.equal(JSON.parse(again).network.dhcp.leases, 2);
  } finally {
    await vm?.kill();
    if (dnsmasq) await stopByPid(dnsmasq);
    await ns.delete();
    await Deno.remove(dir, { recursive: true });
  }
});
