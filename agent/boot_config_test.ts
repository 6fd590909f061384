import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { deriveNetwork, parseBootConfig, wantsRootfs } from "./boot_config.ts";
import { sampleManifest } from "./testdata/manifests.ts";
import { VolantError } from "../src/errors.ts";

const base = "console=ttyS0 panic=-1 reboot=t tsc_early_khz=2000000";

Deno.test("cmdline: defaults when only base arguments are given", () => {
  const c = parseBootConfig(base);
  assertEquals(c.boot, "auto");
  assertEquals(c.rootfsDevice, "vdb");
  assertEquals(c.rootfsFstype, "ext4");
  assertEquals(c.agentDevice, "vda");
  assertEquals(c.debugShell, false);
  assertEquals(c.network, null);
  assertEquals(c.dns, []);
  assertEquals(c.manifestValue, undefined);
});

Deno.test("cmdline: every volant key is read", () => {
  const c = parseBootConfig(
    `${base} volant.manifest=H4sIabc volant.plugin=web volant.ip=192.168.127.10/24 ` +
      "volant.gw=192.168.127.1 volant.dns=1.1.1.1,9.9.9.9 volant.mtu=1400 volant.hostname=web-1 " +
      "volant.boot=rootfs volant.rootfs_device=vdc volant.rootfs_fstype=erofs " +
      "volant.agent_device=vdz volant.debug_shell=1",
  );
  assertEquals(c.manifestValue, "H4sIabc");
  assertEquals(c.plugin, "web");
  assertEquals(c.network, {
    address: "192.168.127.10",
    prefix: 24,
    network: "192.168.127.0",
    broadcast: "192.168.127.255",
    gateway: "192.168.127.1",
    mtu: 1400,
  });
  assertEquals(c.dns, ["1.1.1.1", "9.9.9.9"]);
  assertEquals(c.hostname, "web-1");
  assertEquals(c.boot, "rootfs");
  assertEquals(c.rootfsDevice, "vdc");
  assertEquals(c.rootfsFstype, "erofs");
  assertEquals(c.agentDevice, "vdz");
  assertEquals(c.debugShell, true);
});

Deno.test("cmdline: volant.agent_channel=1 says the key comes over the agent channel", () => {
  assertEquals(parseBootConfig(base).agentChannel, false);
  assertEquals(parseBootConfig(`${base} volant.agent_channel=1`).agentChannel, true);
  assertThrows(
    () => parseBootConfig(`${base} volant.agent_channel=yes`),
    (e) => e instanceof VolantError && e.problems[0].field === "volant.agent_channel",
  );
});

Deno.test("cmdline: the last occurrence of a key wins, as in the kernel", () => {
  assertEquals(parseBootConfig("volant.boot=rootfs volant.boot=initramfs").boot, "initramfs");
});

function problemField(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert(e instanceof VolantError, String(e));
    assertEquals(e.code, "invalid_input");
    return e.problems[0]?.field ?? "";
  }
  throw new Error("did not throw");
}

Deno.test("cmdline: bad values name their key", () => {
  assertEquals(problemField(() => parseBootConfig("volant.boot=usb")), "volant.boot");
  assertEquals(problemField(() => parseBootConfig("volant.ip=10.0.0.300/24")), "volant.ip");
  assertEquals(problemField(() => parseBootConfig("volant.ip=10.0.0.3")), "volant.ip");
  assertEquals(problemField(() => parseBootConfig("volant.ip=10.0.0.3/33")), "volant.ip");
  assertEquals(
    problemField(() => parseBootConfig("volant.ip=10.0.0.3/24 volant.gw=10.0.1.1")),
    "volant.gw",
  );
  assertEquals(problemField(() => parseBootConfig("volant.gw=10.0.1.1")), "volant.gw");
  assertEquals(
    problemField(() => parseBootConfig("volant.ip=10.0.0.3/24 volant.mtu=9x")),
    "volant.mtu",
  );
  assertEquals(
    problemField(() => parseBootConfig("volant.ip=10.0.0.3/24 volant.mtu=40")),
    "volant.mtu",
  );
  assertEquals(problemField(() => parseBootConfig("volant.dns=1.1.1.1,localhost")), "volant.dns");
  assertEquals(problemField(() => parseBootConfig("volant.hostname=-bad")), "volant.hostname");
  assertEquals(problemField(() => parseBootConfig("volant.debug_shell=yes")), "volant.debug_shell");
  assertEquals(
    problemField(() => parseBootConfig("volant.rootfs_device=../x")),
    "volant.rootfs_device",
  );
  assertEquals(
    problemField(() => parseBootConfig("volant.rootfs_fstype=ext4,x")),
    "volant.rootfs_fstype",
  );
});

Deno.test("network derivation: prefixes, broadcast and point-to-point", () => {
  assertEquals(deriveNetwork("10.1.2.3/8").broadcast, "10.255.255.255");
  assertEquals(deriveNetwork("10.1.2.3/8").network, "10.0.0.0");
  assertEquals(deriveNetwork("172.16.5.9/20").network, "172.16.0.0");
  assertEquals(deriveNetwork("172.16.5.9/20").broadcast, "172.16.15.255");
  assertEquals(deriveNetwork("192.168.1.0/31", "192.168.1.1").gateway, "192.168.1.1");
  assertEquals(deriveNetwork("192.168.1.7/32").network, "192.168.1.7");
  assertThrows(() => deriveNetwork("192.168.1.0/24"), /network or broadcast/);
  assertThrows(() => deriveNetwork("192.168.1.255/24"), /network or broadcast/);
  assertThrows(() => deriveNetwork("192.168.1.5/24", "192.168.1.5"), /own address/);
});

Deno.test("boot mode: auto switches root only for a manifest with a rootfs", () => {
  const withRootfs = { ...sampleManifest, rootfs: { url: "https://example.com/r.img" } };
  const auto = parseBootConfig("volant.boot=auto");
  assertEquals(wantsRootfs(auto, sampleManifest), false, "an extra disk is not a root disk");
  assertEquals(wantsRootfs(auto, withRootfs), true);
  assertEquals(wantsRootfs(parseBootConfig("volant.boot=rootfs"), sampleManifest), true);
  assertEquals(wantsRootfs(parseBootConfig("volant.boot=initramfs"), withRootfs), false);
});
