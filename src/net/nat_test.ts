import { assertEquals, assertMatch, assertThrows } from "./testdata/assert.ts";
import { VolantError } from "../errors.ts";
import { REMOVE_SCRIPT, renderRuleset, ruleCount, rulesetDigest } from "./nat.ts";

const spec = { bridge: "vbr0", subnet: "192.168.127.1/24", guardHostPorts: [7777, 443, 7777] };

Deno.test("ruleset replaces the table atomically and guards the API before any accept", () => {
  const s = renderRuleset(spec);
  const lines = s.split("\n");
  assertEquals(lines.slice(0, 3), [
    "table inet volant {}",
    "delete table inet volant",
    "table inet volant {",
  ]);
  const input = lines.slice(lines.indexOf("  chain input {"), lines.indexOf("  chain forward {"));
  assertEquals(input[2], '    iifname "vbr0" tcp dport { 443, 7777 } counter drop');
  assertEquals(input.at(-2), '    iifname "vbr0" counter drop');
  assertMatch(
    s,
    /ip saddr 192\.168\.127\.0\/24 oifname != "vbr0" masquerade comment "volant:[0-9a-f]{16}"/,
  );
  assertMatch(s, /iifname "vbr0" oifname != "vbr0" accept/);
  assertEquals(ruleCount(spec), 11);
});

Deno.test("the digest changes with the spec and not with port order", () => {
  assertEquals(rulesetDigest(spec), rulesetDigest({ ...spec, guardHostPorts: [443, 7777] }));
  assertEquals(rulesetDigest(spec) === rulesetDigest({ ...spec, guardHostPorts: [7777] }), false);
});

Deno.test("bad NAT input names the field", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ ...spec, guardHostPorts: [0] }, "guardHostPorts"],
    [{ ...spec, subnet: "192.168.127.0" }, "subnet"],
    [{ ...spec, bridge: "br idge" }, "bridge"],
  ];
  for (const [s, field] of cases) {
    const e = assertThrows(() => renderRuleset(s as typeof spec), VolantError);
    assertEquals(e.problems[0].field, field);
  }
});

Deno.test("removal is one transaction that tolerates a missing table", () => {
  assertEquals(REMOVE_SCRIPT, "table inet volant {}\ndelete table inet volant\n");
});
