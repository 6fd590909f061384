import { assertEquals, assertThrows } from "./testdata/assert.ts";
import { VolantError } from "../errors.ts";
import { isVolantTap, TAP_PREFIX, tapName, validateIfName } from "./names.ts";

Deno.test("validateIfName accepts kernel-safe names up to 15 bytes", () => {
  for (const n of ["vbr0", "vtap123456789ab", "eth0.100", "br_x-1"]) {
    assertEquals(validateIfName(n), n);
  }
});

Deno.test("validateIfName rejects long, empty and odd names naming the field", () => {
  const cases: [string, RegExp][] = [
    ["vtap1234567890ab", /16 bytes; at most 15/],
    ["", /must not be empty/],
    ["a b", /may contain only/],
    ["a/b", /may contain only/],
    ["eth0:1", /may contain only/],
    ["..", /reserved/],
    ["brü", /may contain only/],
  ];
  for (const [name, re] of cases) {
    const e = assertThrows(() => validateIfName(name, "bridge"), VolantError);
    assertEquals(e.code, "invalid_input");
    assertEquals(e.problems[0].field, "bridge");
    assertEquals(re.test(e.message) && e.message.startsWith("bridge: "), true, e.message);
  }
});

Deno.test("TAP names are vtap<id> and recognised by the sweep", () => {
  assertEquals(TAP_PREFIX, "vtap");
  assertEquals(tapName(42), "vtap42");
  assertEquals(isVolantTap("vtap42"), true);
  assertEquals(isVolantTap("vtap"), false);
  assertEquals(isVolantTap("vtapx"), false);
  assertEquals(isVolantTap("vttap-web"), false);
  assertThrows(() => tapName(-1), VolantError);
  assertThrows(() => tapName(1e11), VolantError); // vtap + 11 digits = 15 ok; 1e11 has 12
});
