/**
 * The agent channel on real QEMU guests (TCG) in a sandboxed volantd (its own
 * network namespace): the example plugin (examples/static-http) boots twice.
 *
 * - `web` (bridged): kestrel finds the virtio-serial port and says so; the
 *   agent key is not on QEMU's command line (the channel's hello carried it); with
 *   its TAP down (no network path from the host at all) the VM still answers
 *   exec, logs and the workload proxy: everything went over the channel. An
 *   exec streaming 20 MB and a short exec run at once; the short one is not
 *   held up behind the big one.
 * - `iso` (`network.mode = "vsock"`): no NIC in the guest (only `lo`), yet it
 *   becomes healthy, proxies its workload (httpd on 127.0.0.1:80 in the
 *   guest), serves its logs and runs exec.
 * - the daemon is SIGKILLed and started again: it adopts both VMs, dials
 *   their channels anew (kestrel drops the old session) and execs in both.
 *
 * On failure the serial and daemon logs are kept in test-artifacts/e2e-agent-channel/.
 */
import assert from "node:assert/strict";
import { prepareHost } from "../../scripts/journey/prepare.ts";
import { Sandbox } from "../../scripts/journey/sandbox.ts";
import { REPO } from "../../scripts/_repo.ts";

const KEEP_LOGS = `${REPO}/test-artifacts/e2e-agent-channel`;

interface Vm {
  name: string;
  state: string;
  health: string;
  ip: string;
  tap?: string;
}

/** GET on volantd's API (its unix socket) with the body as text. */
async function api(sb: Sandbox, path: string): Promise<{ status: number; text: string }> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: sb.socket } });
  try {
    const r = await fetch(`http://volantd${path}`, {
      client,
      signal: AbortSignal.timeout(60_000),
    });
    return { status: r.status, text: await r.text() };
  } finally {
    client.close();
  }
}

Deno.test({
  name: "agent channel: exec, logs and the proxy over virtio-serial; a vsock-mode VM has no NIC",
  sanitizeOps: false,
  sanitizeResources: false,
}, async (t) => {
  if (Deno.uid() !== 0) throw new Error("e2e tests need root (netns, TAP): run as root");
  const artifacts = await prepareHost();
  const sb = await Sandbox.create({ artifacts, prefix: "volant-chan" });
  let ok = false;
  try {
    await sb.startDaemon();
    await sb.installExample({ shim: artifacts.shim });
    // Both boot at once: the TCG boots overlap.
    const web = await sb.volar(["vms", "create", "web", "--plugin", "static-http"]);
    assert.equal(web.code, 0, web.stderr);
    const iso = await sb.volar(["vms", "create", "iso", "--plugin", "static-http", "--no-start"]);
    assert.equal(iso.code, 0, iso.stderr);
    const patch = `${sb.dir}/vsock.json`;
    await Deno.writeTextFile(patch, JSON.stringify({ network: { mode: "vsock" } }));
    const set = await sb.volar(["vms", "config", "set", "iso", "--file", patch]);
    assert.equal(set.code, 0, set.stderr);
    const started = await sb.volar(["vms", "start", "iso"]);
    assert.equal(started.code, 0, started.stderr);

    await t.step(
      "bridged VM: with its TAP down, exec, logs and the proxy still answer",
      async () => {
        await sb.waitHealthy<Vm>("web");
        const serial = await Deno.readTextFile(`${sb.runtimeDir}/web/serial.log`);
        assert.match(serial, /channel: serving the agent API on \/dev\/vport\d+p\d+/);
        // The key came in the channel's hello: neither QEMU's argv nor the serial log has it.
        const key = (await Deno.readTextFile(`${sb.runtimeDir}/web/agent.key`)).trim();
        assert.ok(!(await Deno.readTextFile(`${sb.runtimeDir}/web/vmm.json`)).includes(key));
        assert.ok(!serial.includes(key));
        const links = await sb.inNetns(["ip", "-o", "link", "show", "type", "tun"]);
        const taps = [...links.stdout.matchAll(/^\d+: (vtap\d+)/gm)].map((m) => m[1]);
        assert.ok(taps.length >= 1, links.stdout);
        for (const tap of taps) {
          const down = await sb.inNetns(["ip", "link", "set", tap, "down"]);
          assert.equal(down.code, 0, down.stderr);
        }
        const r = await sb.volar(["vms", "exec", "web", "--", "sh", "-c", "echo over; exit 3"]);
        assert.equal(r.code, 3, r.stderr);
        assert.equal(r.stdout, "over\n");
        const page = await api(sb, "/api/v1/vms/web/agent/v1/");
        assert.equal(page.status, 200, page.text);
        const logs = await api(sb, "/api/v1/vms/web/agent/v1/logs?tail=50");
        assert.equal(logs.status, 200, logs.text);
      },
    );

    await t.step("concurrent streams: a short exec and /healthz pass a 20 MB exec", async () => {
      const order: string[] = [];
      const big = sb.volar([
        "vms",
        "exec",
        "web",
        "--",
        "sh",
        "-c",
        "head -c 20000000 /dev/zero | tr '\\0' x",
      ]).then((r) => {
        order.push("big");
        return r;
      });
      const small = sb.volar(["vms", "exec", "web", "--", "echo", "small"]).then((r) => {
        order.push("small");
        return r;
      });
      const health = api(sb, "/api/v1/vms/web/agent/healthz").then((r) => {
        order.push("health");
        return r;
      });
      const [b, s, h] = await Promise.all([big, small, health]);
      assert.equal(h.status, 200, h.text);
      assert.equal(s.code, 0, s.stderr);
      assert.equal(s.stdout, "small\n");
      assert.equal(b.code, 0, b.stderr);
      assert.equal(b.stdout.length, 20_000_000);
      assert.equal(order.at(-1), "big", order.join(","));
    });

    await t.step("vsock mode: no NIC, healthy, proxies its workload, logs, exec", async () => {
      await sb.waitHealthy<Vm>("iso");
      const nets = await sb.volar(["vms", "exec", "iso", "--", "ls", "/sys/class/net"]);
      assert.equal(nets.code, 0, nets.stderr);
      assert.equal(nets.stdout.trim(), "lo");
      const page = await api(sb, "/api/v1/vms/iso/agent/v1/");
      assert.equal(page.status, 200, page.text);
      const logs = await api(sb, "/api/v1/vms/iso/agent/v1/logs?tail=50");
      assert.equal(logs.status, 200, logs.text);
      assert.match(logs.text, /127\.0\.0\.1\]:\d+: response:200/, "httpd -v logged a request");
      const qemu = await Deno.readTextFile(`${sb.runtimeDir}/iso/vmm.json`);
      assert.ok(!qemu.includes("-netdev"), "a vsock-mode VM has no NIC on the QEMU command line");
      assert.ok(qemu.includes("org.volant.agent"));
    });

    await t.step(
      "a crashed daemon's successor adopts both VMs and reaches them over new links",
      async () => {
        await sb.killDaemon();
        await sb.startDaemon();
        for (const name of ["web", "iso"]) {
          await sb.waitHealthy<Vm>(name);
          const r = await sb.volar(["vms", "exec", name, "--", "echo", `back ${name}`]);
          assert.equal(r.code, 0, r.stderr);
          assert.equal(r.stdout, `back ${name}\n`);
        }
      },
    );
    ok = true;
  } finally {
    if (!ok) {
      const kept = await sb.keepSerialLogs(KEEP_LOGS);
      console.error(`agent channel e2e: logs kept: ${kept.join(", ")}`);
    }
    await sb.close();
  }
});
