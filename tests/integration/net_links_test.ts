/**
 * The low-level netlink/TAP API against a real kernel, inside a network
 * namespace this test creates: results are checked through our own dumps and
 * independently through `ip -j link` / `ip -j addr` in the same namespace.
 */
import assert from "node:assert/strict";
import {
  type IpLink,
  NET_MOD,
  requireCommands,
  rootLinks,
  type Steps,
  stepScript,
  withNetns,
} from "../_helpers/netns.ts";

Deno.test("netlink: bridge, addresses, TAP, master, MTU, up/down in a netns; ip agrees", async () => {
  await requireCommands("ip");
  const before = await rootLinks();
  await withNetns(async (ns) => {
    const r = await ns.deno(stepScript(
      NET_MOD,
      `
      const nl = m.NetlinkSocket.open();
      const mac = m.bridgeMac("vbr9");
      await step("createBridge", () => m.createBridge(nl, { name: "vbr9", mac }));
      await step("createBridgeAgain", () => m.createBridge(nl, { name: "vbr9", mac }));
      await step("mtu", () => m.setMtu(nl, "vbr9", 1400));
      await step("up", () => m.setUp(nl, "vbr9", true));
      await step("addAddress", () => m.addAddress(nl, "vbr9", "192.168.127.1/24"));
      await step("addAddress2", () => m.addAddress(nl, "vbr9", "10.9.0.1/16"));
      await step("addAddressAgain", () => m.addAddress(nl, "vbr9", "192.168.127.1/24"));
      await step("createTap", () => m.createTap("vtap7", { owner: 4242 }));
      await step("createTapAgain", () => m.createTap("vtap7"));
      await step("master", () => m.setMaster(nl, "vtap7", "vbr9"));
      await step("tapUp", () => m.setUp(nl, "vtap7", true));
      await step("masterMissing", () => m.setMaster(nl, "vtap7", "nobridge0"));
      await step("badName", () => m.createTap("vtap-name-too-long"));
      await step("badChars", () => m.createBridge(nl, { name: "br 0", mac }));
      await step("links", () => m.listLinks(nl));
      await step("addrs", () => m.listAddresses(nl));
      await step("mac", () => mac);
      `,
    ));
    assert.equal(r.code, 0, r.stderr);
    const s = r.result as Steps;
    for (
      const k of [
        "createBridge",
        "mtu",
        "up",
        "addAddress",
        "addAddress2",
        "createTap",
        "master",
        "tapUp",
      ]
    ) {
      assert.deepEqual(s[k], { ok: null }, `${k}: ${JSON.stringify(s[k])}`);
    }
    // Error cases: typed, naming the operation, the object and the errno.
    assert.equal(s.createBridgeAgain.errno, "EEXIST");
    assert.match(s.createBridgeAgain.error!, /^create bridge vbr9: EEXIST/);
    assert.equal(s.createBridgeAgain.code, "conflict");
    assert.equal(s.addAddressAgain.errno, "EEXIST");
    assert.match(s.addAddressAgain.error!, /add address 192\.168\.127\.1\/24 to vbr9: EEXIST/);
    assert.equal(s.createTapAgain.errno, "EEXIST");
    assert.match(s.createTapAgain.error!, /^create tap vtap7: EEXIST/);
    assert.equal(s.masterMissing.errno, "ENODEV");
    assert.match(s.masterMissing.error!, /nobridge0: ENODEV/);
    assert.equal(s.masterMissing.code, "not_found");
    assert.deepEqual([s.badName.code, s.badName.field], ["invalid_input", "name"]);
    assert.match(s.badName.error!, /18 bytes; at most 15/);
    assert.deepEqual([s.badChars.code, s.badChars.field], ["invalid_input", "name"]);

    // Our dump.
    // deno-lint-ignore no-explicit-any
    const ours = new Map((s.links.ok as any[]).map((l) => [l.name, l]));
    const br = ours.get("vbr9");
    const tap = ours.get("vtap7");
    assert.deepEqual([br.kind, br.up, br.mtu, br.mac], ["bridge", true, 1400, s.mac.ok]);
    assert.deepEqual([tap.kind, tap.up, tap.master, tap.tun], ["tun", true, "vbr9", {
      type: 2,
      owner: 4242,
      vnetHdr: true,
      persist: true,
    }]);
    // deno-lint-ignore no-explicit-any
    const ourAddrs = (s.addrs.ok as any[]).map((a) => `${a.address}/${a.prefixlen}@${a.label}`)
      .sort();
    assert.deepEqual(ourAddrs, ["10.9.0.1/16@vbr9", "192.168.127.1/24@vbr9"]);

    // iproute2's independent view.
    const ip = new Map(
      (await ns.json<IpLink[]>(["ip", "-j", "-d", "link", "show"])).map((l) => [l.ifname, l]),
    );
    assert.equal(ip.get("vbr9")?.linkinfo?.info_kind, "bridge");
    assert.equal(ip.get("vbr9")?.address, s.mac.ok);
    assert.equal(ip.get("vbr9")?.mtu, 1400);
    assert.ok(ip.get("vbr9")?.flags.includes("UP"));
    assert.equal(ip.get("vtap7")?.master, "vbr9");
    assert.equal(ip.get("vtap7")?.linkinfo?.info_kind, "tun");
    assert.ok(ip.get("vtap7")?.flags.includes("UP"));
    assert.equal(ip.get("vtap7")?.ifindex, tap.index);
    const ipAddrs = await ns.json<
      { ifname: string; addr_info: { local: string; prefixlen: number }[] }[]
    >(
      ["ip", "-j", "-4", "addr", "show", "dev", "vbr9"],
    );
    assert.deepEqual(
      ipAddrs[0].addr_info.map((a) => `${a.local}/${a.prefixlen}`).sort(),
      ["10.9.0.1/16", "192.168.127.1/24"],
    );

    // Undo: down, clear master, delete address, delete links; ip confirms.
    const u = await ns.deno(stepScript(
      NET_MOD,
      `
      const nl = m.NetlinkSocket.open();
      await step("down", () => m.setUp(nl, "vbr9", false));
      await step("clearMaster", () => m.setMaster(nl, "vtap7", null));
      await step("afterClear", () => m.getLink(nl, "vtap7"));
      await step("delAddr", () => m.deleteAddress(nl, "vbr9", "10.9.0.1/16"));
      await step("delAddrAgain", () => m.deleteAddress(nl, "vbr9", "10.9.0.1/16"));
      await step("addrs", () => m.listAddresses(nl).map((a) => a.address));
      await step("bridgeState", () => m.getLink(nl, "vbr9"));
      await step("delTap", () => m.deleteLink(nl, "vtap7"));
      await step("delBridge", () => m.deleteLink(nl, "vbr9"));
      await step("delBridgeAgain", () => m.deleteLink(nl, "vbr9"));
      await step("missing", () => m.getLink(nl, "vbr9"));
      await step("left", () => m.listLinks(nl).map((l) => l.name));
      `,
    ));
    assert.equal(u.code, 0, u.stderr);
    const t = u.result as Steps;
    assert.deepEqual(t.down, { ok: null });
    assert.equal(t.afterClear.ok.masterIndex, undefined);
    assert.deepEqual(t.delAddr, { ok: null });
    assert.equal(t.delAddrAgain.errno, "EADDRNOTAVAIL");
    assert.deepEqual(t.addrs.ok, ["192.168.127.1"]);
    assert.equal(t.bridgeState.ok.up, false);
    assert.deepEqual([t.delTap, t.delBridge], [{ ok: null }, { ok: null }]);
    assert.equal(t.delBridgeAgain.errno, "ENODEV");
    assert.match(t.delBridgeAgain.error!, /^delete link vbr9: ENODEV/);
    assert.deepEqual(t.missing, { ok: null });
    assert.deepEqual(t.left.ok, ["lo"]);
    assert.deepEqual((await ns.json<IpLink[]>(["ip", "-j", "link"])).map((l) => l.ifname), ["lo"]);
  });
  assert.deepEqual(await rootLinks(), before, "the root namespace's links changed");
});

Deno.test("netlink: a large multi-part dump (150 TAPs) is read completely", async () => {
  const before = await rootLinks();
  await withNetns(async (ns) => {
    const r = await ns.deno(stepScript(
      NET_MOD,
      `
      const nl = m.NetlinkSocket.open();
      for (let i = 0; i < 150; i++) m.createTap("vtap" + i);
      await step("count", () => m.listLinks(nl).filter((l) => l.kind === "tun").length);
      for (let i = 0; i < 150; i++) m.deleteLink(nl, "vtap" + i);
      await step("after", () => m.listLinks(nl).length);
      `,
    ));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.result, { count: { ok: 150 }, after: { ok: 1 } });
  });
  assert.deepEqual(await rootLinks(), before);
});

Deno.test("deleteLinks: many links in one transaction, others untouched, missing skipped; ip agrees", async () => {
  await requireCommands("ip");
  const before = await rootLinks();
  await withNetns(async (ns) => {
    const r = await ns.deno(stepScript(
      NET_MOD,
      `
      const nl = m.NetlinkSocket.open();
      m.createBridge(nl, { name: "vbr0", mac: m.bridgeMac("vbr0") });
      for (let i = 0; i < 40; i++) m.createTap("vtap" + i);
      for (let i = 0; i < 40; i++) m.setLink(nl, "vtap" + i, { master: m.requireLink(nl, "vbr0").index, up: true });
      // A link already in a group of its own must survive, and its group must not be borrowed.
      m.setLink(nl, "vtap39", { group: 0x766c0000 });
      const doomed = [...Array(38).keys()].map((i) => "vtap" + i);
      await step("deleted", () => m.deleteLinks(nl, [...doomed, "vtap0", "vtap77"]));
      await step("left", () => m.listLinks(nl).map((l) => l.name + ":" + l.group));
      await step("none", () => m.deleteLinks(nl, []));
      await step("badName", () => m.deleteLinks(nl, ["vtap1", "../etc"]));
      `,
    ));
    assert.equal(r.code, 0, r.stderr);
    const s = r.result as Steps;
    assert.deepEqual(s.deleted.ok, [...Array(38).keys()].map((i) => "vtap" + i));
    assert.deepEqual(s.left.ok, ["lo:0", "vbr0:0", "vtap38:0", `vtap39:${0x766c0000}`]);
    assert.deepEqual(s.none, { ok: [] });
    assert.deepEqual([s.badName.code, s.badName.field], ["invalid_input", "name"]);
    const ip = await ns.json<{ ifname: string; group: string }[]>(["ip", "-j", "link"]);
    assert.deepEqual(ip.map((l) => l.ifname), ["lo", "vbr0", "vtap38", "vtap39"]);
  });
  assert.deepEqual(await rootLinks(), before);
});

Deno.test("not root: a clear EPERM error naming the operation (setpriv to nobody in the netns)", async () => {
  await requireCommands("ip", "setpriv");
  const before = await rootLinks();
  await withNetns(async (ns) => {
    const r = await ns.deno(
      stepScript(
        NET_MOD,
        `
      const nl = m.NetlinkSocket.open();
      await step("bridge", () => m.createBridge(nl, { name: "vbr0", mac: m.bridgeMac("vbr0") }));
      await step("tap", () => m.createTap("vtap1"));
      await step("ensure", () => m.createHostNetwork().ensureBridge({ name: "vbr0", gatewayCidr: "192.168.127.1/24" }));
      await step("links", () => m.listLinks(nl).map((l) => l.name));
      `,
      ),
      { asUser: 65534 },
    );
    assert.equal(r.code, 0, r.stderr);
    const s = r.result as Steps;
    assert.equal(s.bridge.errno, "EPERM");
    assert.equal(s.bridge.code, "forbidden");
    assert.match(
      s.bridge.error!,
      /^create bridge vbr0: EPERM \(operation not permitted\).*root or CAP_NET_ADMIN/,
    );
    // /dev/net/tun is 0600 here, so open() fails first (EACCES); with 0666 TUNSETIFF says EPERM.
    assert.ok(["EPERM", "EACCES"].includes(s.tap.errno!), JSON.stringify(s.tap));
    assert.equal(s.tap.code, "forbidden");
    assert.match(s.tap.error!, /tap vtap1\)?: (EPERM|EACCES) .*root or CAP_NET_ADMIN/);
    assert.equal(s.ensure.errno, "EPERM");
    // Reading works unprivileged; nothing was created.
    assert.deepEqual(s.links.ok, ["lo"]);
  });
  assert.deepEqual(await rootLinks(), before);
});
