import assert from "node:assert/strict";
import { leaseNetwork, maskToPrefix, parseLeaseLine, udhcpcScript } from "./dhcp_lease.ts";

Deno.test("dhcp lease: the script udhcpc runs prints what a real shell gives it, parsed back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "udhcpc-script-" });
  try {
    const script = `${dir}/s`;
    await Deno.writeTextFile(script, udhcpcScript("/bin/busybox"), { mode: 0o755 });
    const out = await new Deno.Command(script, {
      args: ["bound"],
      env: {
        ip: "10.7.0.50",
        subnet: "255.255.255.0",
        router: "10.7.0.1 10.7.0.2",
        dns: "10.7.0.1 9.9.9.9",
        hostname: "leased",
        lease: "120",
        mtu: "1400",
        serverid: "10.7.0.1",
      },
      stdout: "piped",
    }).output();
    const e = parseLeaseLine(new TextDecoder().decode(out.stdout))!;
    assert.deepEqual(e, {
      event: "bound",
      ip: "10.7.0.50",
      subnet: "255.255.255.0",
      router: "10.7.0.1",
      dns: ["10.7.0.1", "9.9.9.9"],
      hostname: "leased",
      domain: undefined,
      lease: 120,
      mtu: 1400,
      server: "10.7.0.1",
    });
    assert.deepEqual(leaseNetwork(e), {
      address: "10.7.0.50",
      prefix: 24,
      network: "10.7.0.0",
      broadcast: "10.7.0.255",
      gateway: "10.7.0.1",
      mtu: 1400,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dhcp lease: other lines are not leases; masks; a deconfig has no address", () => {
  assert.equal(parseLeaseLine("udhcpc: sending discover"), null);
  assert.equal(maskToPrefix("255.255.255.0"), 24);
  assert.equal(maskToPrefix("255.255.240.0"), 20);
  assert.equal(maskToPrefix("255.255.255.255"), 32);
  assert.throws(() => maskToPrefix("255.0.255.0"), /not contiguous/);
  const e = parseLeaseLine("KESTREL_DHCP\tdeconfig\tip=\tsubnet=")!;
  assert.equal(e.event, "deconfig");
  assert.throws(() => leaseNetwork(e), /without an address/);
});
