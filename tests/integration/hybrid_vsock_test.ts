/**
 * The hybrid-vsock host client (src/guest/hybrid_vsock.ts) against the
 * CONTRACT FAKE of Cloud Hypervisor's vsock muxer
 * (src/vmm/testing/fake_hybrid_vsock.ts, which speaks upstream's docs/vsock.md
 * protocol and names muxer.rs lines), over real unix sockets; then end to end
 * through the Cloud Hypervisor driver booting the contract-fake VMM with
 * `--vsock`. Cloud Hypervisor itself needs /dev/kvm (the KVM suite in
 * tests/kvm/ runs it in CI).
 */
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { isVolantError } from "../../src/errors.ts";
import {
  connectHybridVsock,
  hostListenerPath,
  listenHybridVsock,
} from "../../src/guest/hybrid_vsock.ts";
import { CloudHypervisorDriver } from "../../src/vmm/cloud_hypervisor/driver.ts";
import { runtimePath } from "../../src/vmm/runtime_dir.ts";
import { writeFakeChBinary } from "../../src/vmm/testing/fake_cloud_hypervisor.ts";
import {
  echoService,
  FAKE_GUEST_ECHO_PORT,
  FakeHybridVsock,
  parseConnectCommand,
} from "../../src/vmm/testing/fake_hybrid_vsock.ts";
import { buildTestGuest, GUEST_LINES } from "../../src/vmm/testing/guest_fixture.ts";
import { waitForSerial } from "../../src/vmm/conformance.ts";

async function roundTrip(conn: Deno.Conn, text: string): Promise<string> {
  const data = new TextEncoder().encode(text);
  await conn.write(data);
  const buf = new Uint8Array(data.length);
  let got = 0;
  while (got < data.length) {
    const n = await conn.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return new TextDecoder().decode(buf.subarray(0, got));
}

async function withMuxer(fn: (mux: FakeHybridVsock, path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "volant-hvsock-" });
  const mux = new FakeHybridVsock(`${dir}/vsock.sock`);
  mux.listen(FAKE_GUEST_ECHO_PORT, echoService);
  try {
    await fn(mux, `${dir}/vsock.sock`);
  } finally {
    mux.close(true);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("hybrid vsock: CONNECT <port> -> OK <host port>, then the guest's stream", async () => {
  await withMuxer(async (mux, path) => {
    const a = await connectHybridVsock(path, FAKE_GUEST_ECHO_PORT);
    const b = await connectHybridVsock(path, FAKE_GUEST_ECHO_PORT);
    try {
      // Host ports are allocated from 2^30 upward, one per connection.
      assertEquals([a.hostPort, b.hostPort], [2 ** 30, 2 ** 30 + 1]);
      assertEquals(await roundTrip(a.conn, "hello over vsock\n"), "hello over vsock\n");
      assertEquals(await roundTrip(b.conn, "second stream"), "second stream");
      assertEquals(mux.connects, [FAKE_GUEST_ECHO_PORT, FAKE_GUEST_ECHO_PORT]);
    } finally {
      a.conn.close();
      b.conn.close();
    }
  });
});

Deno.test("hybrid vsock: a port nobody listens on, a missing socket, a bad port", async () => {
  await withMuxer(async (_mux, path) => {
    await rejects(connectHybridVsock(path, 4321), (e) => {
      return isVolantError(e, "unavailable") &&
        /nothing listens on vsock port 4321/.test(e.message);
    });
    await rejects(connectHybridVsock(`${path}.missing`, 1), (e) => isVolantError(e, "unavailable"));
    await rejects(connectHybridVsock(path, -1), (e) => {
      return isVolantError(e, "invalid_input") && e.problems[0].field === "port";
    });
  });
});

Deno.test("hybrid vsock: a peer that never answers times out as `unavailable`", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-hvsock-" });
  const listener = Deno.listen({ transport: "unix", path: `${dir}/silent.sock` });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const c of listener) held.push(c);
  })().catch((e) => {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
  });
  try {
    await rejects(connectHybridVsock(`${dir}/silent.sock`, 5, { timeoutMs: 200 }), (e) => {
      return isVolantError(e, "unavailable") && /no answer within 200 ms/.test(e.message);
    });
  } finally {
    for (const c of held) c.close();
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hybrid vsock: guest -> host connections arrive on <socket>_<port>", async () => {
  await withMuxer(async (mux, path) => {
    assertEquals(hostListenerPath(path, 5000), `${path}_5000`);
    await Deno.writeTextFile(`${path}_5000`, "stale"); // left by a crash: replaced
    const listener = await listenHybridVsock(path, 5000);
    try {
      const accepted = listener.accept();
      const guest = await mux.connectToHost(5000);
      const host = await accepted;
      await guest.write(new TextEncoder().encode("from guest"));
      const buf = new Uint8Array(10);
      let got = 0;
      while (got < 10) got += (await host.read(buf.subarray(got))) ?? 10;
      assertEquals(new TextDecoder().decode(buf), "from guest");
      guest.close();
      host.close();
    } finally {
      listener.close(); // Deno removes the socket file with it
    }
  });
});

Deno.test("fake muxer parses commands as upstream's muxer tests say (muxer.rs v53.0 l. 1615-1710)", () => {
  assertEquals(parseConnectCommand("CONNECT 1337"), 1337);
  assertEquals(parseConnectCommand("connect 1337"), 1337);
  assertEquals(parseConnectCommand("CONNECT  1337 "), 1337);
  assertEquals(parseConnectCommand("CONNECT 👾"), null);
  assertEquals(parseConnectCommand("CONNECT "), null);
  assertEquals(parseConnectCommand("CONNEC 1"), null);
});

Deno.test({
  name:
    "hybrid vsock end to end: the driver boots the contract-fake VMM with --vsock; a crash's stale socket does not block the next boot",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const guest = await buildTestGuest({ kernel: "/bin/busybox" });
    const root = await Deno.makeTempDir({ prefix: "volant-hvsock-e2e-" });
    const keepAlive = setInterval(() => {}, 1000);
    try {
      const driver = new CloudHypervisorDriver({
        binary: await writeFakeChBinary(root),
        skipKvmCheck: true,
        runtimeRoot: `${root}/run`,
        stateRoot: `${root}/state`,
      });
      const spec = {
        name: "vs",
        runtimeDir: `${root}/run/vs`,
        stateDir: `${root}/state/vs`,
        kernel: guest.kernel,
        initramfs: guest.initramfs,
        disks: [],
        cpus: 1,
        memoryMb: 128,
        cmdline: guest.cmdline,
        machine: "q35" as const,
        vsock: { cid: 3 },
        serialLogMaxBytes: 1 << 20,
      };
      const vsock = runtimePath(spec.runtimeDir, "vsock");
      const first = await driver.boot(spec);
      const s = await connectHybridVsock(vsock, FAKE_GUEST_ECHO_PORT);
      assertEquals(await roundTrip(s.conn, "ping"), "ping");
      s.conn.close();
      // A crash (SIGKILL from outside) leaves vsock.sock behind, as Cloud Hypervisor does.
      Deno.kill(first.pid, "SIGKILL");
      await driver.exited(first);
      ok((await Deno.lstat(vsock)).isSocket, "stale vsock.sock left by the crash");
      // The next boot clears it; without that, binding it fails the boot.
      const second = await driver.boot(spec);
      try {
        await waitForSerial(second, GUEST_LINES.ready, 10_000);
        const again = await connectHybridVsock(vsock, FAKE_GUEST_ECHO_PORT);
        assertEquals(await roundTrip(again.conn, "pong"), "pong");
        again.conn.close();
      } finally {
        await driver.shutdown(second, { graceMs: 5_000 });
      }
      // A clean exit removes it.
      await rejects(Deno.lstat(vsock), Deno.errors.NotFound);
      await driver.destroy(spec);
    } finally {
      clearInterval(keepAlive);
      await Deno.remove(root, { recursive: true });
      await Deno.remove(guest.dir, { recursive: true });
    }
  },
});
