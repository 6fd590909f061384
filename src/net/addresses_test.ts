import { assertEquals, assertThrows } from "./testdata/assert.ts";
import { VolantError } from "../errors.ts";
import { networkOf, parseCidr } from "./addresses.ts";
import { bridgeMac } from "./bridge.ts";

Deno.test("parseCidr / networkOf", () => {
  assertEquals(parseCidr("192.168.127.1/24"), { address: "192.168.127.1", prefixlen: 24 });
  assertEquals(networkOf(parseCidr("192.168.127.77/24")), "192.168.127.0/24");
  assertEquals(networkOf(parseCidr("10.1.2.3/0")), "0.0.0.0/0");
  assertEquals(networkOf(parseCidr("10.1.2.3/32")), "10.1.2.3/32");
  for (const bad of ["192.168.127.1", "1.2.3.4/33", "256.1.1.1/8", "a/24"]) {
    const e = assertThrows(() => parseCidr(bad, "gatewayCidr"), VolantError);
    assertEquals(e.problems[0].field, "gatewayCidr");
  }
});

Deno.test("bridge MAC is fixed per name, unicast and locally administered", () => {
  assertEquals(bridgeMac("vbr0"), bridgeMac("vbr0"));
  assertEquals(bridgeMac("vbr0") === bridgeMac("vbr1"), false);
  assertEquals(bridgeMac("vbr0").startsWith("02:"), true);
  assertEquals(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(bridgeMac("vbr0")), true);
});
