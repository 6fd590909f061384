import assert from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import { decodeManifestValue, parseCmdline, parseManifest } from "../manifest/mod.ts";
import { assembleCmdline, checkExtraArgs } from "./cmdline.ts";

const manifest = parseManifest({
  name: "web",
  version: "1",
  rootfs: { url: "https://example.test/rootfs.img", checksum: "b".repeat(64) },
  resources: { cpu_cores: 1, memory_mb: 128 },
  workload: { type: "http", base_url: "http://127.0.0.1:80", entrypoint: ["/bin/httpd"] },
});

Deno.test("cmdline: base flags, tsc, volant keys, user args, manifest last", async () => {
  const line = await assembleCmdline({
    manifest,
    ip: "192.168.127.2",
    prefix: 24,
    gateway: "192.168.127.1",
    dns: ["192.168.127.1", "9.9.9.9"],
    mtu: 1500,
    hostname: "web-1",
    tscKhz: 2999.6,
    boot: "rootfs",
    rootfsDevice: "vdb",
    rootfsFstype: "ext4",
    agentDevice: "vda",
    extra: "volant.debug_shell=1 quiet",
  });
  assert.ok(line.startsWith("console=ttyS0 panic=-1 reboot=t tsc_early_khz=3000 "));
  const args = parseCmdline(line);
  assert.equal(args.get("volant.ip"), "192.168.127.2/24");
  assert.equal(args.get("volant.gw"), "192.168.127.1");
  assert.equal(args.get("volant.dns"), "192.168.127.1,9.9.9.9");
  assert.equal(args.get("volant.mtu"), "1500");
  assert.equal(args.get("volant.hostname"), "web-1");
  assert.equal(args.get("volant.plugin"), "web");
  assert.equal(args.get("volant.runtime"), "web");
  assert.equal(args.get("volant.boot"), "rootfs");
  assert.equal(args.get("volant.rootfs_device"), "vdb");
  assert.equal(args.get("volant.agent_device"), "vda");
  assert.equal(args.get("volant.debug_shell"), "1");
  const tokens = line.split(" ");
  assert.ok(tokens.at(-1)!.startsWith("volant.manifest="));
  assert.ok(tokens.indexOf("quiet") < tokens.length - 1);
  assert.deepEqual(await decodeManifestValue(args.get("volant.manifest")!), manifest);
});

Deno.test("cmdline: no tsc flag without TCG; no rootfs keys without a rootfs", async () => {
  const line = await assembleCmdline({
    manifest,
    ip: "10.0.0.2",
    prefix: 24,
    gateway: "10.0.0.1",
    hostname: "a",
    boot: "initramfs",
  });
  assert.ok(!line.includes("tsc_early_khz"));
  assert.ok(!line.includes("volant.rootfs_device"));
  assert.ok(!line.includes("volant.dns"));
});

Deno.test("cmdline: a key over the agent channel is a flag, never the key itself", async () => {
  const common = {
    manifest,
    ip: "10.0.0.2",
    prefix: 24,
    gateway: "10.0.0.1",
    hostname: "a",
    boot: "initramfs" as const,
  };
  const viaChannel = await assembleCmdline({ ...common, agentChannel: true });
  assert.ok(viaChannel.split(" ").includes("volant.agent_channel=1"));
  assert.ok(!viaChannel.includes("volant.agent_key"));
  const onCmdline = await assembleCmdline({ ...common, agentKey: "k".repeat(43) });
  assert.ok(!onCmdline.includes("volant.agent_channel"));
  assert.throws(
    () => checkExtraArgs("volant.agent_channel=1"),
    (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "kernel_cmdline",
  );
});

Deno.test("cmdline: user args cannot override the manifest or carry quotes", () => {
  assert.throws(
    () => checkExtraArgs("volant.manifest=e30"),
    (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "kernel_cmdline",
  );
  assert.throws(() => checkExtraArgs('foo="bar"'), /quotes/);
});

Deno.test("cmdline: over budget names the size and the biggest fields", async () => {
  const big = parseManifest({
    ...manifest,
    labels: Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`k${i}`, crypto.randomUUID()]),
    ),
  });
  await assert.rejects(
    assembleCmdline({
      manifest: big,
      ip: "10.0.0.2",
      prefix: 24,
      gateway: "10.0.0.1",
      hostname: "a",
      boot: "auto",
    }),
    (e) =>
      isVolantError(e, "invalid_input") && /over the 2048-byte limit/.test(e.message) &&
      /labels/.test(e.message),
  );
});
