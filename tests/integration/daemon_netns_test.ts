/**
 * As root, the daemon ensures the bridge and the NAT table at start, and the
 * NAT table guards the API port. Runs the daemon under `unshare -n`, so all
 * of this happens in a network namespace the test creates (and which dies
 * with the daemon); the host's namespace is never touched.
 */
import assert from "node:assert/strict";
import { freePort, startDaemonProcess } from "../../src/daemon/testing/harness.ts";

async function inNetns(pid: number, cmd: string[]): Promise<string> {
  const out = await new Deno.Command("nsenter", {
    args: ["-t", String(pid), "-n", ...cmd],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

Deno.test("as root in its own netns the daemon ensures bridge + NAT and guards the API port", async () => {
  if (Deno.uid() !== 0) {
    throw new Error("this test needs root (it creates a network namespace): run it as root");
  }
  for (const bin of ["unshare", "nsenter", "nft", "ip"]) {
    const found = await new Deno.Command("sh", { args: ["-c", `command -v ${bin}`] }).output();
    if (!found.success) {
      throw new Error(`${bin} missing: apt-get install util-linux nftables iproute2`);
    }
  }
  const port = freePort();
  const d = await startDaemonProcess({
    hostNetwork: true,
    wrap: ["unshare", "-n"],
    // Loopback is down in a fresh netns: listen on the bridge's gateway address, which is
    // exactly what guests could reach if the NAT table did not guard it.
    configText: `listen = "10.77.0.1:${port}"\nbridge = "vbrt0"\nsubnet = "10.77.0.0/24"\n`,
  });
  try {
    const links = JSON.parse(await inNetns(d.pid, ["ip", "-j", "addr", "show", "vbrt0"]));
    assert.equal(links[0].ifname, "vbrt0");
    assert.ok(
      links[0].addr_info.some((a: { local: string; prefixlen: number }) =>
        a.local === "10.77.0.1" && a.prefixlen === 24
      ),
      JSON.stringify(links[0].addr_info),
    );
    const ruleset = await inNetns(d.pid, ["nft", "list", "table", "inet", "volant"]);
    assert.match(ruleset, /masquerade/);
    assert.match(ruleset, new RegExp(`\\b${port}\\b`), "the API port is guarded from guests");
    assert.match(d.stderr(), /host network ready/);
    // The host's namespace has no such bridge.
    const host = await new Deno.Command("ip", { args: ["link", "show", "vbrt0"], stderr: "null" })
      .output();
    assert.equal(host.success, false);
  } finally {
    assert.equal(await d.stop(), 0);
    await d.cleanup();
  }
});
