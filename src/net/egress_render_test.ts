import { assertEquals, assertMatch, assertThrows } from "./testdata/assert.ts";
import { VolantError } from "../errors.ts";
import { renderPolicies, type VmNetPolicy } from "./egress.ts";

const vm = (p: Partial<VmNetPolicy>): VmNetPolicy => ({
  tap: "vtap1",
  ip: "192.168.127.2",
  egress: "allow-all",
  isolation: false,
  ...p,
});

Deno.test("no policed VM: both tables are only deleted (the default adds no rule)", () => {
  assertEquals(
    renderPolicies([vm({})], "vbr0"),
    "table inet volant_egress {}\ndelete table inet volant_egress\n" +
      "table bridge volant_l2 {}\ndelete table bridge volant_l2\n",
  );
});

Deno.test("an allow-list renders its rules, then drop; ports sorted, protocols split", () => {
  const s = renderPolicies([
    vm({ egress: { allow: [{ cidr: "10.1.2.3/8", ports: [443, 80, 443] }, { cidr: "1.1.1.1" }] } }),
  ], "vbr0");
  assertMatch(s, /ip saddr 192\.168\.127\.2 jump vm_vtap1/);
  assertMatch(
    s,
    /chain vm_vtap1 \{\n {4}ip daddr 10\.0\.0\.0\/8 tcp dport \{ 80, 443 \} accept\n {4}ip daddr 10\.0\.0\.0\/8 udp dport \{ 80, 443 \} accept\n {4}ip daddr 1\.1\.1\.1\/32 accept\n {4}counter drop/,
  );
  assertMatch(s, /iifname "vtap1" ether type ip ip saddr != 192\.168\.127\.2 counter drop/);
  assertEquals(s.includes('oifname "vtap1"'), false, "not isolated");
});

Deno.test("bad policy input names the field and renders nothing", () => {
  const cases: [VmNetPolicy, string][] = [
    [vm({ egress: { allow: [{ cidr: "10.0.0.0/33" }] } }), "egress.allow[0].cidr"],
    [vm({ egress: { allow: [{ cidr: "10.0.0.0/8", ports: [0] }] } }), "egress.allow[0].ports"],
    [vm({ egress: "deny-all", tap: "bad tap" }), "tap"],
    [vm({ egress: "deny-all", ip: "300.1.1.1" }), "ip"],
  ];
  for (const [p, field] of cases) {
    const e = assertThrows(() => renderPolicies([p], "vbr0"), VolantError);
    assertEquals(e.problems[0].field, field);
  }
});
