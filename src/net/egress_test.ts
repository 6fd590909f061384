/**
 * Per-VM egress and isolation with real traffic: a "host" namespace with the
 * Volant bridge and NAT table, two "guest" namespaces plugged into the bridge
 * through veth ports named like TAPs (the policy keys on the bridge port
 * name and the guest address, so a veth port stands for a TAP exactly), and
 * an "internet" namespace beyond the host with TCP servers on ports 80 and
 * 81. Every check is a real TCP connect or ping across the namespaces.
 * Takes ~15 s.
 */
import { assertEquals, assertMatch } from "./testdata/assert.ts";
import { createNetns, type Netns, requireCommands } from "../../tests/_helpers/netns.ts";
import { renderRuleset } from "./nat.ts";
import { renderPolicies, type VmNetPolicy } from "./egress.ts";

const BRIDGE = "vbr0";
const SERVER = "10.99.0.2";

interface World {
  host: Netns;
  g1: Netns;
  g2: Netns;
  net: Netns;
  servers: Deno.ChildProcess[];
  dir: string;
}

async function build(): Promise<World> {
  const host = await createNetns("eh");
  const g1 = await createNetns("e1");
  const g2 = await createNetns("e2");
  const net = await createNetns("ei");
  const w: World = { host, g1, g2, net, servers: [], dir: await Deno.makeTempDir() };
  const h = (cmd: string) => host.check(cmd.split(" "));
  for (const ns of [host, g1, g2, net]) await ns.check(["ip", "link", "set", "lo", "up"]);
  await h(`ip link add ${BRIDGE} type bridge`);
  await h(`ip addr add 192.168.127.1/24 dev ${BRIDGE}`);
  await h(`ip link set ${BRIDGE} up`);
  for (const [i, g] of [[1, g1], [2, g2]] as const) {
    await h(`ip link add vtap${i} type veth peer name eth0 netns ${g.name}`);
    await h(`ip link set vtap${i} master ${BRIDGE} up`);
    await g.check(["ip", "addr", "add", `192.168.127.1${i}/24`, "dev", "eth0"]);
    await g.check(["ip", "link", "set", "eth0", "up"]);
    await g.check(["ip", "route", "add", "default", "via", "192.168.127.1"]);
  }
  await h(`ip link add uplink type veth peer name eth0 netns ${net.name}`);
  await h(`ip addr add 10.99.0.1/24 dev uplink`);
  await h(`ip link set uplink up`);
  await net.check(["ip", "addr", "add", `${SERVER}/24`, "dev", "eth0"]);
  await net.check(["ip", "link", "set", "eth0", "up"]);
  await host.check(["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  await nft(w, renderRuleset({ bridge: BRIDGE, subnet: "192.168.127.0/24" }));
  for (const port of [80, 81]) {
    w.servers.push(
      new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          net.name,
          "socat",
          `TCP-LISTEN:${port},bind=${SERVER},fork,reuseaddr`,
          "SYSTEM:echo ok",
        ],
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
  }
  // The servers listen once a connect from the host answers.
  for (const port of [80, 81]) {
    for (let i = 0; i < 50 && !(await connects(host, SERVER, port)); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return w;
}

async function teardown(w: World): Promise<void> {
  for (const s of w.servers) {
    s.kill("SIGKILL");
    await s.status;
  }
  for (const ns of [w.g1, w.g2, w.net, w.host]) await ns.delete();
  await Deno.remove(w.dir, { recursive: true });
}

async function nft(w: World, script: string): Promise<void> {
  const file = `${w.dir}/rules.nft`;
  await Deno.writeTextFile(file, script);
  await w.host.check(["nft", "-f", file]);
}

async function connects(from: Netns, ip: string, port: number): Promise<boolean> {
  const r = await from.run([
    "timeout",
    "3",
    "socat",
    "-u",
    `TCP:${ip}:${port},connect-timeout=2`,
    "-",
  ]);
  return r.code === 0 && r.stdout.trim() === "ok";
}

async function pings(from: Netns, ip: string): Promise<boolean> {
  return (await from.run(["busybox", "ping", "-c1", "-W1", ip])).code === 0;
}

const g1 = (p: Partial<VmNetPolicy>): VmNetPolicy => ({
  tap: "vtap1",
  ip: "192.168.127.11",
  egress: "allow-all",
  isolation: false,
  ...p,
});

Deno.test({
  name: "egress and isolation policies hold against real traffic between namespaces",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await requireCommands("ip", "nft", "socat", "busybox", "timeout");
  const w = await build();
  try {
    await t.step("default: no rule; internet through NAT and peers reachable", async () => {
      await nft(w, renderPolicies([g1({})], BRIDGE));
      assertEquals(await connects(w.g1, SERVER, 80), true);
      assertEquals(await pings(w.g1, "192.168.127.12"), true);
      const tables = await w.host.check(["nft", "list", "tables"]);
      assertEquals(/volant_egress|volant_l2/.test(tables), false, tables);
    });

    await t.step(
      "deny-all: nothing beyond the bridge; peers and the host still answer",
      async () => {
        await nft(w, renderPolicies([g1({ egress: "deny-all" })], BRIDGE));
        assertEquals(await connects(w.g2, SERVER, 80), true, "another guest is not affected");
        assertEquals(await connects(w.g1, SERVER, 80), false);
        assertEquals(await connects(w.g2, SERVER, 80), true, "another guest, after g1's drop");
        assertEquals(await pings(w.g1, "192.168.127.12"), true);
        assertEquals(await pings(w.host, "192.168.127.11"), true);
      },
    );

    await t.step("deny-all cannot be dodged by taking another guest's address", async () => {
      await w.g1.check(["ip", "addr", "add", "192.168.127.12/32", "dev", "eth0"]);
      const r = await w.g1.run([
        "timeout",
        "3",
        "socat",
        "-u",
        `TCP:${SERVER}:80,connect-timeout=2,bind=192.168.127.12`,
        "-",
      ]);
      assertEquals(r.code === 0 && r.stdout.trim() === "ok", false);
      await w.g1.check(["ip", "addr", "del", "192.168.127.12/32", "dev", "eth0"]);
    });

    await t.step("allow-list: only the listed network and port", async () => {
      await nft(
        w,
        renderPolicies([g1({
          egress: { allow: [{ cidr: `${SERVER}/32`, ports: [80], protocol: "tcp" }] },
        })], BRIDGE),
      );
      assertEquals(await connects(w.g1, SERVER, 80), true);
      assertEquals(await connects(w.g1, SERVER, 81), false);
      assertEquals(await connects(w.g2, SERVER, 81), true);
    });

    await t.step("isolation: no frames to or from peers; the host and internet still", async () => {
      await nft(w, renderPolicies([g1({ isolation: true })], BRIDGE));
      assertEquals(await pings(w.g1, "192.168.127.12"), false);
      assertEquals(await pings(w.g2, "192.168.127.11"), false);
      assertEquals(await connects(w.g1, SERVER, 81), true);
      assertEquals(await pings(w.host, "192.168.127.11"), true);
    });

    await t.step("clearing the last policy removes both tables", async () => {
      await nft(w, renderPolicies([], BRIDGE));
      const tables = await w.host.check(["nft", "list", "tables"]);
      assertMatch(tables, /table inet volant\n/);
      assertEquals(/volant_egress|volant_l2/.test(tables), false, tables);
      assertEquals(await pings(w.g1, "192.168.127.12"), true);
    });
  } finally {
    await teardown(w);
  }
});
