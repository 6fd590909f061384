import assert from "node:assert/strict";
import { VolantError } from "../errors.ts";
import { DEFAULTS } from "./defaults.ts";
import { loadConfig, resolveConfig } from "./resolve.ts";

const file = (text: string) => ({ path: "/etc/volant/volantd.toml", text });

Deno.test("defaults apply when nothing is given", () => {
  const c = resolveConfig();
  assert.equal(c.stateDir, "/var/lib/volant");
  assert.equal(c.socket, "/run/volant/volantd.sock");
  assert.equal(c.bridge, "vbr0");
  assert.equal(c.subnet, "192.168.127.0/24");
  assert.equal(c.kernel, "/var/cache/volant/kernel/current/vmlinux");
  assert.equal(c.sources.bridge, "default");
});

Deno.test("precedence: flag > env > file > default", () => {
  const inputs = {
    flags: { bridge: "brflag" },
    env: { VOLANT_BRIDGE: "brenv", VOLANT_SUBNET: "10.0.0.0/24" },
    file: file('bridge = "brfile"\nsubnet = "10.9.0.0/24"\nmtu = 1400\n'),
  };
  const c = resolveConfig(inputs);
  assert.equal(c.bridge, "brflag");
  assert.equal(c.sources.bridge, "flag --bridge");
  assert.equal(c.subnet, "10.0.0.0/24");
  assert.equal(c.sources.subnet, "env VOLANT_SUBNET");
  assert.equal(c.mtu, 1400);
  assert.equal(c.sources.mtu, "config file /etc/volant/volantd.toml");
  assert.equal(c.stateDir, DEFAULTS.state_dir);
  const noFlag = resolveConfig({ ...inputs, flags: {} });
  assert.equal(noFlag.bridge, "brenv");
  const fileOnly = resolveConfig({ file: inputs.file });
  assert.equal(fileOnly.bridge, "brfile");
});

Deno.test("derived paths follow cache_dir unless set", () => {
  const c = resolveConfig({ flags: { cache_dir: "/c", kernel: "/k/vmlinux" } });
  assert.equal(c.kernel, "/k/vmlinux");
  assert.equal(c.agentImage, "/c/agent/current/agent.img");
  assert.equal(c.bootInitramfs, "/c/agent/current/boot.cpio.gz");
});

Deno.test("a bad value names the key and where it came from", () => {
  const cases: [Parameters<typeof resolveConfig>[0], string, RegExp][] = [
    [{ env: { VOLANT_SUBNET: "nope" } }, "subnet", /env VOLANT_SUBNET/],
    [{ flags: { listen: "127.0.0.1:99999" } }, "listen", /flag --listen/],
    [{ flags: { hypervisor: "firecracker" } }, "hypervisor", /flag --hypervisor/],
    [{ file: file("mtu = 10") }, "mtu", /config file/],
    [{ flags: { state_dir: "relative/dir" } }, "state_dir", /absolute/],
    [{ env: { VOLANT_BRIDGE: "a-name-that-is-too-long" } }, "bridge", /env VOLANT_BRIDGE/],
  ];
  for (const [inputs, key, re] of cases) {
    assert.throws(() => resolveConfig(inputs), (e: unknown) => {
      assert.ok(e instanceof VolantError);
      assert.equal(e.code, "invalid_input");
      assert.equal(e.problems[0].field, key);
      assert.match(e.problems[0].message, re);
      return true;
    });
  }
});

Deno.test("unknown keys and broken TOML in the file are errors", () => {
  assert.throws(
    () => resolveConfig({ file: file('brige = "x"\n') }),
    (e: unknown) => e instanceof VolantError && e.problems[0].field === "brige",
  );
  assert.throws(
    () => resolveConfig({ file: file("bridge = \n") }),
    (e: unknown) => e instanceof VolantError && /not valid TOML/.test(e.message),
  );
});

Deno.test("loadConfig: an explicitly named file must exist; a missing default is fine", async () => {
  await assert.rejects(
    loadConfig({ configPath: "/nonexistent/volantd.toml" }, {}),
    /config file \/nonexistent\/volantd.toml: not found/,
  );
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/v.toml`;
    await Deno.writeTextFile(path, 'bridge = "vbr9"\n');
    const c = await loadConfig({}, { VOLANT_CONFIG: path });
    assert.equal(c.bridge, "vbr9");
    assert.equal(c.configFile, path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
