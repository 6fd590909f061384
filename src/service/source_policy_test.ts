import assert from "node:assert/strict";
import { classifyAddress, refusal } from "./source_policy.ts";

Deno.test("addresses are classified, mapped and NAT64 forms included", () => {
  const cases: [string, string | null][] = [
    ["169.254.169.254", "link_local"],
    ["::ffff:169.254.169.254", "link_local"],
    ["::ffff:a9fe:a9fe", "link_local"],
    ["64:ff9b::169.254.169.254", "link_local"],
    ["fe80::1", "link_local"],
    ["[fe80::1%eth0]", "link_local"],
    ["127.0.0.1", "loopback"],
    ["127.8.9.10", "loopback"],
    ["::1", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.168.127.5", "private"],
    ["100.64.0.1", "private"],
    ["fd00:ec2::254", "private"],
    ["0.0.0.0", "reserved"],
    ["::", "reserved"],
    ["224.0.0.1", "reserved"],
    ["255.255.255.255", "reserved"],
    ["ff02::1", "reserved"],
    ["8.8.8.8", "public"],
    ["2001:4860:4860::8888", "public"],
    ["example.com", null],
    ["1.2.3", null],
    ["1::2::3", null],
  ];
  for (const [ip, want] of cases) assert.equal(classifyAddress(ip), want, ip);
});

Deno.test("URL host spellings of the metadata address normalise to it (checked after URL parsing)", () => {
  for (const raw of ["http://2852039166/", "http://0xa9fea9fe/", "http://169.254.43518/"]) {
    assert.equal(classifyAddress(new URL(raw).hostname), "link_local", raw);
  }
  // Backslashes are slashes in http URLs: `\\169.254.169.254\x` relative to a manifest URL.
  assert.equal(
    new URL("\\\\169.254.169.254\\x", "http://example.com/m.json").hostname,
    "169.254.169.254",
  );
});

Deno.test("policy: link-local and reserved always refused; private only when allowed", () => {
  for (const allowPrivate of [false, true]) {
    assert.match(refusal("link_local", { allowPrivate })!, /never fetched/);
    assert.match(refusal("reserved", { allowPrivate })!, /never fetched/);
    assert.equal(refusal("public", { allowPrivate }), null);
  }
  assert.match(refusal("loopback", { allowPrivate: false })!, /--allow-private-sources/);
  assert.match(refusal("private", { allowPrivate: false })!, /--allow-private-sources/);
  assert.equal(refusal("loopback", { allowPrivate: true }), null);
  assert.equal(refusal("private", { allowPrivate: true }), null);
});
