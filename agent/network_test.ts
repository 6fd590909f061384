/**
 * kestrel's netlink network setup for real, inside a network namespace this
 * test creates (and deletes): a veth named eth0 stands in for virtio-net.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";

async function run(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

async function requireTools(): Promise<void> {
  for (const tool of ["ip", "unshare"]) {
    const ok = await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`] }).output();
    if (!ok.success) throw new Error(`${tool} missing: apt-get install -y iproute2 util-linux`);
  }
}

Deno.test("network: lo, eth0 address/MTU/up, default route, hostname, resolv.conf and hosts", async () => {
  await requireTools();
  const ns = `kestrel-net-${Deno.pid}`;
  const etc = await Deno.makeTempDir({ prefix: "kestrel-etc-" });
  await run("ip", "netns", "add", ns);
  try {
    await run("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0");
    await run("ip", "-n", ns, "link", "set", "peer0", "up");
    const cmdline = "console=ttyS0 volant.ip=10.77.0.10/24 volant.gw=10.77.0.1 volant.mtu=1400 " +
      "volant.dns=10.77.0.1,9.9.9.9 volant.hostname=guest-one";
    const helper = new URL("./testdata/apply_network.ts", import.meta.url).pathname;
    const out = await run(
      "ip",
      "netns",
      "exec",
      ns,
      "unshare",
      "-u",
      Deno.execPath(),
      "run",
      "-A",
      helper,
      cmdline,
      etc,
    );
    const result = JSON.parse(out);
    assertEquals(result.hostname, "guest-one");
    assertEquals(result.status.address, "10.77.0.10");
    assertEquals(result.status.gateway, "10.77.0.1");

    const lo = JSON.parse(await run("ip", "-n", ns, "-j", "link", "show", "lo"))[0];
    assert(lo.flags.includes("UP"), "lo is up");
    const eth = JSON.parse(await run("ip", "-n", ns, "-j", "addr", "show", "eth0"))[0];
    assert(eth.flags.includes("UP"), "eth0 is up");
    assertEquals(eth.mtu, 1400);
    const v4 = eth.addr_info.find((a: { family: string }) => a.family === "inet");
    assertEquals([v4.local, v4.prefixlen, v4.broadcast], ["10.77.0.10", 24, "10.77.0.255"]);
    const routes = JSON.parse(await run("ip", "-n", ns, "-j", "route", "show", "default"));
    assertEquals(routes.length, 1);
    assertEquals([routes[0].gateway, routes[0].dev], ["10.77.0.1", "eth0"]);

    assertEquals(
      await Deno.readTextFile(`${etc}/resolv.conf`),
      "# written by kestrel from volant.dns\nnameserver 10.77.0.1\nnameserver 9.9.9.9\n",
    );
    assert((await Deno.readTextFile(`${etc}/hosts`)).includes("10.77.0.10\tguest-one\n"));

    // Idempotent: a second run (address and route already there) succeeds.
    await run(
      "ip",
      "netns",
      "exec",
      ns,
      "unshare",
      "-u",
      Deno.execPath(),
      "run",
      "-A",
      helper,
      cmdline,
      etc,
    );
    // A missing interface is a bounded, named failure.
    await run("ip", "-n", ns, "link", "del", "eth0");
    const err = await new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        ns,
        "unshare",
        "-u",
        Deno.execPath(),
        "run",
        "-A",
        helper,
        cmdline,
        etc,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(!err.success);
    assert(
      new TextDecoder().decode(err.stderr).includes("interface eth0 did not appear in 2000 ms"),
    );
  } finally {
    await run("ip", "netns", "del", ns);
    await Deno.remove(etc, { recursive: true });
  }
});
