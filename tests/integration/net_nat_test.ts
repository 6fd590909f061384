/**
 * ip_forward and the `inet volant` nftables table, with real traffic between
 * three network namespaces this test creates: "host" (bridge + NAT), "guest"
 * (a veth port on the bridge) and "outside" (an upstream network). Checks the
 * ruleset through `nft -j list ruleset`, masquerade by the source address the
 * outside sees, and that the guest cannot reach the guarded API port.
 */
import assert from "node:assert/strict";
import {
  createNetns,
  NET_MOD,
  type Netns,
  requireCommands,
  rootLinks,
  type Steps,
  stepScript,
} from "../_helpers/netns.ts";

const API_PORT = 7777;
const NAT = { bridge: "vbr0", subnet: "192.168.127.0/24", guardHostPorts: [API_PORT] };

// deno-lint-ignore no-explicit-any
type NftObj = Record<string, any>;

async function nft(ns: Netns): Promise<NftObj[]> {
  return (await ns.json<{ nftables: NftObj[] }>(["nft", "-j", "list", "ruleset"])).nftables;
}

/** A TCP listener in `ns` answering each connection with `reply`; killed by PID by the caller. */
function listen(ns: Netns, port: number, reply: string): Deno.ChildProcess {
  return new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      ns.name,
      "socat",
      `TCP-LISTEN:${port},reuseaddr,fork`,
      `SYSTEM:${reply}`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Connects from `ns`; returns what the server said, or null on timeout/refusal. */
async function connect(ns: Netns, addr: string, port: number): Promise<string | null> {
  const r = await ns.run(["socat", "-T2", "-", `TCP:${addr}:${port},connect-timeout=2`], {
    stdin: "",
  });
  return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

async function waitConnect(ns: Netns, addr: string, port: number): Promise<string | null> {
  for (let i = 0; i < 20; i++) {
    const got = await connect(ns, addr, port);
    if (got !== null) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

Deno.test("NAT: forwarding, masquerade, guard of the host API, idempotent apply, one-step removal", async () => {
  await requireCommands("ip", "nft", "socat");
  const before = await rootLinks();
  const rootForward = await Deno.readTextFile("/proc/sys/net/ipv4/ip_forward");
  const spawned: Deno.ChildProcess[] = [];
  const namespaces: Netns[] = [];
  try {
    // Pushed one by one so a failure half-way still deletes what exists.
    for (const p of ["h", "g", "o"]) namespaces.push(await createNetns(p));
    const [host, guest, outside] = namespaces;

    const setup = await host.deno(stepScript(
      NET_MOD,
      `const hn = m.createHostNetwork();
       await step("bridge", () => hn.ensureBridge({ name: "vbr0", gatewayCidr: "192.168.127.1/24" }));`,
    ));
    assert.deepEqual(setup.result, { bridge: { ok: null } }, setup.stderr);
    // Test plumbing (not the code under test): a veth "guest NIC" on the bridge and an uplink.
    await host.check([
      "ip",
      "link",
      "add",
      "vg0",
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      guest.name,
    ]);
    await host.check(["ip", "link", "set", "vg0", "master", "vbr0", "up"]);
    await guest.check(["ip", "addr", "add", "192.168.127.10/24", "dev", "eth0"]);
    await guest.check(["ip", "link", "set", "eth0", "up"]);
    await guest.check(["ip", "link", "set", "lo", "up"]);
    await guest.check(["ip", "route", "add", "default", "via", "192.168.127.1"]);
    await host.check([
      "ip",
      "link",
      "add",
      "up0",
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      outside.name,
    ]);
    await host.check(["ip", "addr", "add", "10.99.0.1/24", "dev", "up0"]);
    await host.check(["ip", "link", "set", "up0", "up"]);
    await outside.check(["ip", "addr", "add", "10.99.0.2/24", "dev", "eth0"]);
    await outside.check(["ip", "link", "set", "eth0", "up"]);

    spawned.push(listen(host, API_PORT, "echo api"));
    spawned.push(listen(outside, 8000, "echo $SOCAT_PEERADDR"));

    // Before NAT: the guest reaches the host API, and nothing is forwarded.
    assert.equal(await waitConnect(guest, "192.168.127.1", API_PORT), "api");
    assert.equal(await host.check(["cat", "/proc/sys/net/ipv4/ip_forward"]), "0\n");
    assert.equal(await connect(guest, "10.99.0.2", 8000), null);

    const apply = await host.deno(stepScript(
      NET_MOD,
      `const hn = m.createHostNetwork();
       await step("nat", () => hn.ensureNat(${JSON.stringify(NAT)}));
       await step("natAgain", () => m.ensureNftTable(${JSON.stringify(NAT)}));
       await step("badPort", () => hn.ensureNat({ ...${
        JSON.stringify(NAT)
      }, guardHostPorts: [70000] }));
       await step("badSubnet", () => hn.ensureNat({ ...${JSON.stringify(NAT)}, subnet: "x" }));`,
    ));
    assert.equal(apply.code, 0, apply.stderr);
    const s = apply.result as Steps;
    assert.deepEqual(s.nat, { ok: null });
    assert.deepEqual(s.natAgain, { ok: "unchanged" }, "second apply must be a no-op");
    assert.deepEqual([s.badPort.code, s.badPort.field], ["invalid_input", "guardHostPorts"]);
    assert.deepEqual([s.badSubnet.code, s.badSubnet.field], ["invalid_input", "subnet"]);

    assert.equal(await host.check(["cat", "/proc/sys/net/ipv4/ip_forward"]), "1\n");
    const rs = await nft(host);
    const tables = rs.filter((o) => o.table).map((o) => `${o.table.family} ${o.table.name}`);
    assert.deepEqual(tables, ["inet volant"]);
    const chains = rs.filter((o) => o.chain).map((o) => `${o.chain.name}:${o.chain.hook}`);
    assert.deepEqual(chains, ["input:input", "forward:forward", "postrouting:postrouting"]);
    const rules = rs.filter((o) => o.rule).map((o) => o.rule);
    const text = JSON.stringify(rules);
    assert.match(text, /"masquerade"/);
    assert.match(text, /"prefix":\{"addr":"192\.168\.127\.0","len":24\}/);
    const guard = rules.find((r) =>
      r.chain === "input" && JSON.stringify(r.expr).includes(`"right":${API_PORT}`)
    );
    assert.ok(guard, "a rule guarding the API port");
    assert.ok(JSON.stringify(guard.expr).includes('"drop"'));

    // With NAT: the guest goes out masqueraded, and cannot reach the host API.
    assert.equal(await waitConnect(guest, "10.99.0.2", 8000), "10.99.0.1");
    assert.equal(await connect(guest, "192.168.127.1", API_PORT), null);
    const rules2 = (await nft(host)).filter((o) => o.rule).map((o) => o.rule);
    const guard2 = rules2.find((r) => r.handle === guard.handle);
    const counter = guard2.expr.find((e: NftObj) => e.counter)?.counter;
    assert.ok(
      counter.packets > 0,
      `guard rule counted the dropped SYNs: ${JSON.stringify(counter)}`,
    );
    // The host still reaches the guest (replies come back as established).
    spawned.push(listen(guest, 8080, "echo guest"));
    assert.equal(await waitConnect(host, "192.168.127.10", 8080), "guest");

    const remove = await host.deno(stepScript(
      NET_MOD,
      `const hn = m.createHostNetwork();
       await step("remove", () => hn.removeNat());
       await step("removeAgain", () => hn.removeNat());`,
    ));
    assert.deepEqual(
      remove.result,
      { remove: { ok: null }, removeAgain: { ok: null } },
      remove.stderr,
    );
    assert.deepEqual((await nft(host)).filter((o) => o.table), []);
    assert.equal(await waitConnect(guest, "192.168.127.1", API_PORT), "api");
  } finally {
    for (const c of spawned) {
      c.kill("SIGTERM");
      await c.status;
    }
    for (const ns of namespaces) await ns.delete();
  }
  assert.deepEqual(await rootLinks(), before, "the root namespace's links changed");
  assert.equal(await Deno.readTextFile("/proc/sys/net/ipv4/ip_forward"), rootForward);
});
