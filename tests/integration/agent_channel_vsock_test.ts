/**
 * The agent channel over Cloud Hypervisor's vsock (hybrid vsock: the host
 * dials `<runtime>/vsock.sock`, sends `CONNECT 1024`), against the CONTRACT
 * FAKE of CH's vsock muxer (src/vmm/testing/fake_hybrid_vsock.ts). The fake
 * guest's port 1024 runs a guest mux session relaying each stream to a real
 * HTTP server, as kestrel does (agent/channel.ts `startVsockChannel`; its
 * AF_VSOCK listener itself needs a guest with a vsock device: CH under KVM).
 * No `agent.sock` exists, so the link must take the vsock path; the target's
 * IP is a dead address. The second test runs the whole path: the service
 * boots a bridged VM through the Cloud Hypervisor driver with the contract
 * fake as its binary (whose guest answers on vsock port 1024 like kestrel:
 * fake_guest_agent.ts), and the VM turns healthy only through the channel.
 */
import assert from "node:assert/strict";
import { AgentChannels, hybridVsockSocket } from "../../src/guest/channel.ts";
import { GuestClient } from "../../src/guest/client.ts";
import { AGENT_VSOCK_PORT } from "../../src/manifest/cmdline.ts";
import { MuxSession } from "../../src/shared/mux.ts";
import type { HelloPayload } from "../../src/shared/mux_codec.ts";
import { FakeHybridVsock } from "../../src/vmm/testing/fake_hybrid_vsock.ts";
import { CloudHypervisorDriver } from "../../src/vmm/cloud_hypervisor/driver.ts";
import { writeFakeChBinary } from "../../src/vmm/testing/fake_cloud_hypervisor.ts";
import { FAKE_AGENT_HELLO_LINE } from "../../src/vmm/testing/fake_guest_agent.ts";
import { buildTestGuest, makeRawImage } from "../../src/vmm/testing/guest_fixture.ts";
import { pluginRecord, serviceFixture } from "../../src/service/testing/fixture.ts";

Deno.test("agent channel over hybrid vsock: health and a 2 MB echo at once, key in the hello", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-chanv-" });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/healthz") return new Response("ok");
    if (path === "/v1/echo") return new Response(req.body);
    return new Response("no", { status: 404 });
  });
  const channel = `${dir}/agent.sock`; // never created: CH has no virtio-serial
  const vsock = new FakeHybridVsock(hybridVsockSocket(channel));
  const hellos: HelloPayload[] = [];
  vsock.listen(AGENT_VSOCK_PORT, async (conn) => {
    const writer = conn.writable.getWriter();
    const session: MuxSession = new MuxSession({
      role: "guest",
      write: (b) => writer.write(b),
      onOpen: (s) =>
        void (async () => {
          const api = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
          await Promise.allSettled([
            s.readable.pipeTo(api.writable, { preventClose: true }).then(() => api.closeWrite()),
            api.readable.pipeTo(s.writable),
          ]);
        })(),
      onHello: (h) => {
        hellos.push(h);
        void session.hello({ nonce: h.nonce });
      },
    });
    try {
      for await (const c of conn.readable) session.feed(c);
    } finally {
      session.close();
    }
  });
  const channels = new AgentChannels();
  try {
    const client = new GuestClient({ port: server.addr.port, timeoutMs: 5_000, channels });
    // No address (a vsock-mode VM): once kestrel has answered, the channel carries everything.
    const target = { ip: "", key: "kv", channel };
    // Before kestrel's hello the client goes by the network (refused here) while the link dials.
    assert.equal((await client.health(target)).ok, false);
    await channels.established(channel);
    const body = "y".repeat(2 * 1024 * 1024);
    const [health, echo] = await Promise.all([
      client.health(target),
      client.request(target, {
        method: "POST",
        path: "/v1/echo",
        body,
        timeoutMs: 20_000,
        maxBytes: body.length,
      }),
    ]);
    assert.deepEqual(health, { ok: true, status: 200 });
    assert.equal(new TextDecoder().decode(echo.body), body);
    assert.deepEqual(vsock.connects, [AGENT_VSOCK_PORT]);
    assert.equal(hellos[0].key, "kv");
  } finally {
    channels.close();
    vsock.close(true);
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "CH driver (contract fake): a bridged VM gets --vsock, no key on the cmdline, the key and requests over CONNECT 1024",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const guest = await buildTestGuest({ kernel: "/bin/busybox" });
    const root = await Deno.makeTempDir({ prefix: "volant-chchan-" });
    // Nothing listens on this port at the VM's address: an answer can only come over the channel.
    // (Health of a VM with an address is checked at that address, so it stays unhealthy here.)
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const deadPort = closed.addr.port;
    closed.close();
    const channels = new AgentChannels();
    try {
      const driver = new CloudHypervisorDriver({
        binary: await writeFakeChBinary(root),
        skipKvmCheck: true,
        runtimeRoot: `${root}/run`,
        stateRoot: `${root}/state/vms`,
        eventPollMs: 50,
      });
      assert.equal(driver.agentChannel, true);
      await makeRawImage(`${root}/rootfs.img`);
      const f = await serviceFixture({
        plugin: false,
        options: {
          stateDir: `${root}/state`,
          runtimeDir: `${root}/run`,
          kernel: guest.kernel,
          subnet: "127.0.0.0/8",
          pool: { start: "127.0.0.3" },
          health: { timeoutMs: 20_000, intervalMs: 100 },
        },
        deps: {
          hypervisor: driver,
          guest: new GuestClient({ port: deadPort, timeoutMs: 2_000, channels }),
        },
      });
      try {
        f.store.plugins.put(pluginRecord(`${root}/rootfs.img`));
        const vm = await f.services.vms.create({ name: "c1", plugin: "web" });
        assert.equal(vm.ip, "127.0.0.3");
        const run = `${root}/run/c1`;
        // The daemon's health polls make the link; its hello hands the fake kestrel the key.
        const channel = `${run}/agent.sock`;
        for (const end = Date.now() + 30_000;; await new Promise((r) => setTimeout(r, 100))) {
          const up = await channels.established(channel).then(() => true, (e: unknown) => {
            if (!(e instanceof Error)) throw e;
            return false; // no link yet, or the VMM's vsock socket is not there yet
          });
          if (up) break;
          assert.ok(Date.now() < end, "the agent channel came up over CONNECT 1024");
        }
        const key0 = (await Deno.readTextFile(`${run}/agent.key`)).trim();
        const res = await new GuestClient({ port: deadPort, timeoutMs: 5_000, channels })
          .request({ ip: vm.ip!, key: key0, name: "c1", channel }, {
            method: "GET",
            path: "/healthz",
            timeoutMs: 5_000,
            maxBytes: 4096,
          });
        assert.equal(res.status, 200, "a request over the channel, with the key from the hello");
        const argv: string[] = JSON.parse(await Deno.readTextFile(`${run}/vmm.json`)).argv;
        assert.ok(argv.includes("--net"), "bridged: it has a NIC");
        assert.equal(argv[argv.indexOf("--vsock") + 1], `cid=3,socket=${run}/vsock.sock`);
        const cmdline = argv[argv.indexOf("--cmdline") + 1];
        assert.ok(!cmdline.includes("volant.agent_key"), cmdline);
        const key = await Deno.readTextFile(`${run}/agent.key`);
        assert.ok(!argv.join(" ").includes(key.trim()), "the key is nowhere in CH's argv");
        const serial = await Deno.readTextFile(`${run}/serial.log`);
        assert.ok(serial.includes(`${FAKE_AGENT_HELLO_LINE} (key: yes)`), serial);
        assert.ok(!serial.includes(key.trim()), "the key is not in the serial log");
        await f.services.vms.stop("c1");
        await f.services.vms.delete("c1");
      } finally {
        await f.close();
      }
    } finally {
      channels.close();
      await Deno.remove(root, { recursive: true }).catch(() => {});
      await Deno.remove(guest.dir, { recursive: true });
    }
  },
});
