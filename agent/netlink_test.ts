import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import {
  addAddressMessage,
  addDefaultRouteMessage,
  ipv4Bytes,
  linkUpMessage,
  NLM_F_ACK,
  NLM_F_REQUEST,
  parseAcks,
  RTM_NEWLINK,
} from "./netlink.ts";

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

Deno.test("netlink: link up with MTU is nlmsghdr + ifinfomsg + IFLA_MTU", () => {
  const m = linkUpMessage(7, 2, 1400);
  const v = view(m);
  assertEquals(m.length, 16 + 16 + 8);
  assertEquals(v.getUint32(0, true), m.length);
  assertEquals(v.getUint16(4, true), RTM_NEWLINK);
  assertEquals(v.getUint16(6, true), NLM_F_REQUEST | NLM_F_ACK);
  assertEquals(v.getUint32(8, true), 7);
  assertEquals(v.getInt32(20, true), 2); // ifi_index
  assertEquals(v.getUint32(24, true), 1); // IFF_UP
  assertEquals(v.getUint32(28, true), 1); // change mask
  assertEquals([v.getUint16(32, true), v.getUint16(34, true), v.getUint32(36, true)], [8, 4, 1400]);
  assertEquals(linkUpMessage(1, 1).length, 32);
});

Deno.test("netlink: address and route messages carry aligned attributes", () => {
  const a = addAddressMessage(3, 2, "10.0.0.5", 24, "10.0.0.255");
  assertEquals(a.length, 16 + 8 + 3 * 8);
  assertEquals([a[16], a[17]], [2, 24]); // AF_INET, prefixlen
  assertEquals([...a.subarray(28, 32)], [10, 0, 0, 5]); // IFA_LOCAL payload
  assertEquals(addAddressMessage(3, 2, "10.0.0.5", 31, "x").length, 16 + 8 + 2 * 8);
  const r = addDefaultRouteMessage(4, "10.0.0.1", 2);
  assertEquals(r.length, 16 + 12 + 3 * 8);
  assertEquals([r[16], r[17], r[20], r[23]], [2, 0, 254, 1]); // family, dst_len, main, unicast
  assertThrows(() => ipv4Bytes("10.0.0"), /not an IPv4/);
});

Deno.test("netlink: ACK parsing returns seq and errno", () => {
  const buf = new Uint8Array(36 * 2);
  const v = view(buf);
  for (const [i, [seq, err]] of [[5, 0], [6, -17]].entries()) {
    const off = i * 36;
    v.setUint32(off, 36, true);
    v.setUint16(off + 4, 2, true); // NLMSG_ERROR
    v.setInt32(off + 16, err, true);
    v.setUint32(off + 28, seq, true); // the echoed request header's seq
  }
  assertEquals(parseAcks(buf), [{ seq: 5, errno: 0 }, { seq: 6, errno: 17 }]);
});
