import assert from "node:assert/strict";
import { guestDns, hostNameservers, upstreamNameservers } from "./host_dns.ts";

Deno.test("upstream nameservers: loopback stubs, IPv6 and junk skipped, at most three", () => {
  const text = [
    "# generated",
    "nameserver 127.0.0.53",
    "nameserver ::1",
    "nameserver 10.0.0.2",
    "search example.com",
    "nameserver 10.0.0.2",
    "nameserver 169.254.169.254",
    "nameserver 192.0.2.1 # office",
    "nameserver 300.1.1.1",
    "nameserver 198.51.100.7",
    "nameserver 203.0.113.9",
  ].join("\n");
  assert.deepEqual(upstreamNameservers(text), ["10.0.0.2", "192.0.2.1", "198.51.100.7"]);
});

Deno.test("guest DNS: configured list wins, none disables, else the host's (stub -> resolved's list)", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const stub = `${dir}/resolv.conf`;
    const upstream = `${dir}/upstream.conf`;
    Deno.writeTextFileSync(stub, "nameserver 127.0.0.53\noptions edns0\n");
    Deno.writeTextFileSync(upstream, "nameserver 192.0.2.53\n");
    const files = [stub, upstream, `${dir}/missing.conf`];
    assert.deepEqual(hostNameservers(files), ["192.0.2.53"]);
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    assert.deepEqual(guestDns(["9.9.9.9"], warn, files), ["9.9.9.9"]);
    assert.equal(guestDns(["none"], warn, files), undefined);
    assert.deepEqual(guestDns([], warn, files), ["192.0.2.53"]);
    assert.deepEqual(warnings, []);
    assert.equal(guestDns([], warn, [stub]), undefined);
    assert.match(warnings[0], /guests get no DNS servers: .* set dns = /);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
