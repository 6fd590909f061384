/**
 * The HostNetwork port (createHostNetwork) inside a network namespace this
 * test creates: idempotent ensure-operations that repair drift, TAP
 * lifecycle, the sweep, and the failure paths leaving nothing behind.
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

const BR = { name: "vbr0", gatewayCidr: "192.168.127.1/24", mtu: 1400 };

Deno.test("ensureBridge / ensureTap are idempotent and repair drift; sweep and delete", async () => {
  await requireCommands("ip");
  const before = await rootLinks();
  await withNetns(async (ns) => {
    const first = await ns.deno(stepScript(
      NET_MOD,
      `
      const hn = m.createHostNetwork();
      const nl = m.NetlinkSocket.open();
      await step("bridge", () => hn.ensureBridge(${JSON.stringify(BR)}));
      await step("bridgeIndex", () => m.getLink(nl, "vbr0").index);
      await step("bridgeAgain", () => hn.ensureBridge(${JSON.stringify(BR)}));
      await step("bridgeIndexAgain", () => m.getLink(nl, "vbr0").index);
      await step("tap", () => hn.ensureTap({ name: "vtap1", bridge: "vbr0", owner: 4242 }));
      await step("tapIndex", () => m.getLink(nl, "vtap1").index);
      await step("tapAgain", () => hn.ensureTap({ name: "vtap1", bridge: "vbr0", owner: 4242 }));
      await step("tapIndexAgain", () => m.getLink(nl, "vtap1").index);
      await step("tap2", () => hn.ensureTap({ name: "vtap2", bridge: "vbr0" }));
      await step("mac", () => m.bridgeMac("vbr0"));
      `,
    ));
    assert.equal(first.code, 0, first.stderr);
    const s = first.result as Steps;
    for (const k of ["bridge", "bridgeAgain", "tap", "tapAgain", "tap2"]) {
      assert.deepEqual(s[k], { ok: null }, `${k}: ${JSON.stringify(s[k])}`);
    }
    // Idempotent: the second call did not recreate anything.
    assert.equal(s.bridgeIndexAgain.ok, s.bridgeIndex.ok);
    assert.equal(s.tapIndexAgain.ok, s.tapIndex.ok);

    const ip = async () =>
      new Map(
        (await ns.json<IpLink[]>(["ip", "-j", "-d", "link", "show"])).map((l) => [l.ifname, l]),
      );
    let links = await ip();
    const br = links.get("vbr0")!;
    assert.deepEqual([br.linkinfo?.info_kind, br.address, br.mtu], ["bridge", s.mac.ok, 1400]);
    assert.ok(br.flags.includes("UP"));
    for (const t of ["vtap1", "vtap2"]) {
      const tap = links.get(t)!;
      assert.deepEqual([tap.linkinfo?.info_kind, tap.master, tap.mtu], ["tun", "vbr0", 1400]);
      assert.ok(tap.flags.includes("UP"), `${t} up`);
      assert.equal(tap.linkinfo?.info_data?.type, "tap");
    }
    assert.equal(links.get("vtap1")!.linkinfo?.info_data?.user, 4242);
    const addrs = await ns.json<{ addr_info: { local: string; prefixlen: number }[] }[]>(
      ["ip", "-j", "-4", "addr", "show", "dev", "vbr0"],
    );
    assert.deepEqual(addrs[0].addr_info.map((a) => `${a.local}/${a.prefixlen}`), [
      "192.168.127.1/24",
    ]);

    // Drift made behind our back (with ip, as an operator would); ensure* repairs it.
    await ns.check(["ip", "link", "set", "vbr0", "down"]);
    await ns.check(["ip", "addr", "del", "192.168.127.1/24", "dev", "vbr0"]);
    await ns.check(["ip", "addr", "add", "192.168.127.1/16", "dev", "vbr0"]);
    await ns.check(["ip", "link", "set", "vtap1", "nomaster"]);
    await ns.check(["ip", "link", "set", "vtap1", "down"]);
    await ns.check(["ip", "tuntap", "add", "vtap9", "mode", "tap"]); // stale: no VM owns it
    await ns.check(["ip", "tuntap", "add", "other0", "mode", "tap"]); // not ours: kept
    await ns.check(["ip", "link", "add", "vtap3", "type", "bridge"]); // vtap-named non-TAP

    const second = await ns.deno(stepScript(
      NET_MOD,
      `
      const hn = m.createHostNetwork();
      await step("bridge", () => hn.ensureBridge(${JSON.stringify(BR)}));
      await step("tap", () => hn.ensureTap({ name: "vtap1", bridge: "vbr0", owner: 4242 }));
      await step("sweep", () => hn.sweepTaps(new Set(["vtap1"])));
      await step("tapOverDummy", () => hn.ensureTap({ name: "vtap3", bridge: "vbr0" }));
      await step("deleteDummy", () => hn.deleteTap("vtap3"));
      await step("noBridge", () => hn.ensureTap({ name: "vtap5", bridge: "nobr0" }));
      await step("bridgeIsTap", () => hn.ensureTap({ name: "vtap5", bridge: "vtap1" }));
      await step("badTap", () => hn.ensureTap({ name: "vtap-way-too-long", bridge: "vbr0" }));
      await step("badCidr", () => hn.ensureBridge({ name: "vbr0", gatewayCidr: "192.168.127.1" }));
      await step("bridgeOverTap", () => hn.ensureBridge({ name: "vtap1", gatewayCidr: "10.0.0.1/24" }));
      await step("delete", () => hn.deleteTap("vtap1"));
      await step("deleteAgain", () => hn.deleteTap("vtap1"));
      `,
    ));
    assert.equal(second.code, 0, second.stderr);
    const t = second.result as Steps;
    assert.deepEqual([t.bridge, t.tap], [{ ok: null }, { ok: null }]);
    assert.deepEqual(t.sweep.ok, ["vtap2", "vtap9"]);
    assert.equal(t.tapOverDummy.code, "conflict");
    assert.match(t.tapOverDummy.error!, /tap vtap3: a bridge link of that name exists/);
    assert.equal(t.deleteDummy.code, "conflict");
    assert.equal(t.noBridge.errno, "ENODEV");
    assert.match(t.noBridge.error!, /^attach tap vtap5 to bridge nobr0: ENODEV/);
    assert.equal(t.bridgeIsTap.code, "conflict");
    assert.deepEqual([t.badTap.code, t.badTap.field], ["invalid_input", "tap"]);
    assert.deepEqual([t.badCidr.code, t.badCidr.field], ["invalid_input", "gatewayCidr"]);
    assert.equal(t.bridgeOverTap.code, "conflict");
    assert.deepEqual([t.delete, t.deleteAgain], [{ ok: null }, { ok: null }]);

    links = await ip();
    assert.ok(links.get("vbr0")!.flags.includes("UP"), "bridge up again");
    assert.deepEqual(
      [...links.keys()].sort(),
      ["lo", "other0", "vbr0", "vtap3"],
      "sweep removed vtap2/vtap9 only; failed ensureTap left nothing",
    );
    const addrs2 = await ns.json<{ addr_info: { local: string; prefixlen: number }[] }[]>(
      ["ip", "-j", "-4", "addr", "show", "dev", "vbr0"],
    );
    assert.deepEqual(addrs2[0].addr_info.map((a) => `${a.local}/${a.prefixlen}`), [
      "192.168.127.1/24",
    ]);
  });
  assert.deepEqual(await rootLinks(), before, "the root namespace's links changed");
});

Deno.test("ensureTap recreates a TAP with the wrong owner; ensureBridge leaves no bridge on failure", async () => {
  const before = await rootLinks();
  await withNetns(async (ns) => {
    await ns.check(["ip", "tuntap", "add", "vtap4", "mode", "tap", "user", "7"]);
    const r = await ns.deno(stepScript(
      NET_MOD,
      `
      const hn = m.createHostNetwork();
      const nl = m.NetlinkSocket.open();
      await step("bridge", () => hn.ensureBridge({ name: "vbr1", gatewayCidr: "10.1.0.1/24" }));
      await step("tap", () => hn.ensureTap({ name: "vtap4", bridge: "vbr1", owner: 8 }));
      await step("owner", () => m.getLink(nl, "vtap4").tun.owner);
      // An MTU the bridge refuses: the bridge it just created must be gone again.
      await step("badMtu", () => hn.ensureBridge({ name: "vbr2", gatewayCidr: "10.2.0.1/24", mtu: 70000 }));
      await step("vbr2", () => m.getLink(nl, "vbr2"));
      `,
    ));
    assert.equal(r.code, 0, r.stderr);
    const s = r.result as Steps;
    assert.deepEqual([s.bridge, s.tap, s.owner], [{ ok: null }, { ok: null }, { ok: 8 }]);
    assert.equal(s.badMtu.errno, "EINVAL");
    assert.match(s.badMtu.error!, /configure bridge vbr2: EINVAL/);
    assert.deepEqual(s.vbr2, { ok: null });
  });
  assert.deepEqual(await rootLinks(), before);
});
