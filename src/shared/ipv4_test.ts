import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import {
  broadcastNumber,
  formatIpv4,
  ipv4Bytes,
  ipv4Number,
  ipv4String,
  networkNumber,
  prefixMask,
  splitCidr,
} from "./ipv4.ts";

Deno.test("ipv4: dotted quads round-trip as numbers and bytes", () => {
  assertEquals(ipv4Number("192.168.127.10"), 0xc0a87f0a);
  assertEquals(ipv4Number("255.255.255.255"), 0xffffffff);
  assertEquals(formatIpv4(0xc0a87f0a), "192.168.127.10");
  assertEquals([...ipv4Bytes("10.0.0.5")], [10, 0, 0, 5]);
  assertEquals(ipv4String(ipv4Bytes("0.0.0.0")), "0.0.0.0");
  for (const bad of ["10.0.0", "256.1.1.1", "1.2.3.4.5", "a.b.c.d", " 1.2.3.4", ""]) {
    assertEquals(ipv4Number(bad), null);
  }
  assertThrows(() => ipv4Bytes("10.0.0"), TypeError);
});

Deno.test("ipv4: masks, networks, broadcasts and CIDR splitting", () => {
  assertEquals(prefixMask(0), 0);
  assertEquals(prefixMask(24), 0xffffff00);
  assertEquals(prefixMask(32), 0xffffffff);
  const a = ipv4Number("192.168.127.77")!;
  assertEquals(formatIpv4(networkNumber(a, 24)), "192.168.127.0");
  assertEquals(formatIpv4(broadcastNumber(a, 24)), "192.168.127.255");
  assertEquals(formatIpv4(broadcastNumber(a, 32)), "192.168.127.77");
  assertEquals(splitCidr("10.1.2.3/8"), { address: 0x0a010203, prefix: 8 });
  for (const bad of ["10.1.2.3", "10.1.2.3/33", "10.1.2/8", "10.1.2.3/x", "10.1.2.3/"]) {
    assertEquals(splitCidr(bad), null);
  }
});
