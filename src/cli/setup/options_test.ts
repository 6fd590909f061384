import assert from "node:assert/strict";
import { VolantError } from "../../errors.ts";
import { guestPaths, networkPlan, resolveSetupOptions } from "./options.ts";

const noEnv = () => undefined;

Deno.test("setup options: defaults are volantd's", () => {
  const o = resolveSetupOptions({}, noEnv, "/root");
  assert.equal(o.bridge, "vbr0");
  assert.equal(o.subnet, "192.168.127.0/24");
  assert.equal(o.hostCidr, "192.168.127.1/24");
  assert.equal(o.workDir, "/var/lib/volant");
  assert.equal(o.runtimeDir, "/run/volant/vms");
  assert.equal(o.logDir, "/var/log/volant");
  assert.equal(o.serviceFile, "/etc/systemd/system/volantd.service");
  assert.deepEqual(o.sources, {
    vmlinux: undefined,
    bzImage: undefined,
    agentImage: undefined,
    bootInitramfs: undefined,
  });
  assert.equal(guestPaths(o.workDir).vmlinux, "/var/lib/volant/kernel/vmlinux");
});

Deno.test("setup options: flags beat v1's env names; relative paths are made absolute", () => {
  const env = (n: string) =>
    ({ VOLANT_BRIDGE: "envbr", VOLANT_SUBNET: "10.9.0.0/16", VOLANT_WORK_DIR: "/srv/v" })[n];
  const o = resolveSetupOptions(
    { bridge: "br1", vmlinux: "k/vmlinux", "service-file": "" },
    env,
    "/home/u",
  );
  assert.equal(o.bridge, "br1");
  assert.equal(o.subnet, "10.9.0.0/16");
  assert.equal(o.hostCidr, "10.9.0.1/16");
  assert.equal(o.workDir, "/srv/v");
  assert.equal(o.sources.vmlinux, "/home/u/k/vmlinux");
  assert.equal(o.serviceFile, "", "an empty --service-file skips the unit");
});

Deno.test("setup options: a host address is normalised to its network; bad values name the flag", () => {
  assert.deepEqual(networkPlan("192.168.5.77/24"), {
    subnet: "192.168.5.0/24",
    hostCidr: "192.168.5.1/24",
  });
  assert.deepEqual(networkPlan("192.168.5.0/24", "192.168.5.1").hostCidr, "192.168.5.1/24");
  const cases: [() => unknown, RegExp][] = [
    [() => networkPlan("192.168.5.0/24", "10.0.0.1"), /^--host-ip: 10\.0\.0\.1 is not in/],
    [
      () => networkPlan("192.168.5.0/24", "192.168.5.9"),
      /^--host-ip: volantd uses .* use 192\.168\.5\.1/,
    ],
    [() => networkPlan("192.168.5.0/31"), /^--subnet: /],
    [() => networkPlan("300.1.1.0/24"), /^--subnet: '300\.1\.1\.0' is not an IPv4 address/],
    [() => resolveSetupOptions({ bridge: "a-very-long-bridge-name" }, noEnv, "/"), /^--bridge: /],
    [() => resolveSetupOptions({ "work-dir": "/var/lib/my volant" }, noEnv, "/"), /^--work-dir: /],
  ];
  for (const [fn, re] of cases) {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof VolantError);
      assert.equal(e.code, "usage");
      assert.match(e.message, re);
      return true;
    });
  }
});
