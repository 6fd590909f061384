/**
 * A small rtnetlink encoder: exactly the requests kestrel sends to bring up a
 * guest (link up + MTU, IPv4 address, default route) and the ACK parser. Pure
 * byte layout, no syscalls, so it is unit-tested on the host.
 *
 * @module
 */

export const NETLINK_ROUTE = 0;
export const RTM_NEWLINK = 16;
export const RTM_NEWADDR = 20;
export const RTM_NEWROUTE = 24;
export const NLMSG_ERROR = 2;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;

const AF_UNSPEC = 0;
const AF_INET = 2;
const IFF_UP = 0x1;
const IFLA_MTU = 4;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;

const align4 = (n: number) => (n + 3) & ~3;

/** An rtattr: type plus payload. */
interface Attr {
  type: number;
  data: Uint8Array;
}

function u32Attr(type: number, value: number): Attr {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, value, true);
  return { type, data };
}

function ipv4Attr(type: number, address: string): Attr {
  return { type, data: ipv4Bytes(address) };
}

/** Dotted-quad to 4 bytes; throws on anything else. */
export function ipv4Bytes(address: string): Uint8Array {
  const parts = address.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    throw new Error(`not an IPv4 address: ${address}`);
  }
  return new Uint8Array(parts.map(Number));
}

/** Builds one netlink message: nlmsghdr + fixed header + attributes, all 4-byte aligned. */
function message(type: number, flags: number, seq: number, fixed: Uint8Array, attrs: Attr[]) {
  const attrLen = attrs.reduce((n, a) => n + align4(4 + a.data.length), 0);
  const len = 16 + align4(fixed.length) + attrLen;
  const out = new Uint8Array(len);
  const view = new DataView(out.buffer);
  view.setUint32(0, len, true);
  view.setUint16(4, type, true);
  view.setUint16(6, flags, true);
  view.setUint32(8, seq, true);
  view.setUint32(12, 0, true); // port id 0: the kernel fills in ours
  out.set(fixed, 16);
  let off = 16 + align4(fixed.length);
  for (const a of attrs) {
    view.setUint16(off, 4 + a.data.length, true);
    view.setUint16(off + 2, a.type, true);
    out.set(a.data, off + 4);
    off += align4(4 + a.data.length);
  }
  return out;
}

/** RTM_NEWLINK on an existing link: set IFF_UP (and the MTU when given). */
export function linkUpMessage(seq: number, ifindex: number, mtu?: number): Uint8Array {
  const ifinfo = new Uint8Array(16); // family, pad, type, index, flags, change
  const v = new DataView(ifinfo.buffer);
  v.setUint8(0, AF_UNSPEC);
  v.setInt32(4, ifindex, true);
  v.setUint32(8, IFF_UP, true);
  v.setUint32(12, IFF_UP, true);
  const attrs = mtu === undefined ? [] : [u32Attr(IFLA_MTU, mtu)];
  return message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, ifinfo, attrs);
}

/** RTM_NEWADDR: `address/prefix` on `ifindex`, with the broadcast address. */
export function addAddressMessage(
  seq: number,
  ifindex: number,
  address: string,
  prefix: number,
  broadcast: string,
): Uint8Array {
  const ifaddr = new Uint8Array(8); // family, prefixlen, flags, scope, index
  const v = new DataView(ifaddr.buffer);
  v.setUint8(0, AF_INET);
  v.setUint8(1, prefix);
  v.setUint8(3, RT_SCOPE_UNIVERSE);
  v.setUint32(4, ifindex, true);
  const attrs = [ipv4Attr(IFA_LOCAL, address), ipv4Attr(IFA_ADDRESS, address)];
  if (prefix < 31) attrs.push(ipv4Attr(IFA_BROADCAST, broadcast));
  const flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  return message(RTM_NEWADDR, flags, seq, ifaddr, attrs);
}

/** RTM_NEWROUTE: default route (0.0.0.0/0) via `gateway` out of `ifindex`, main table. */
export function addDefaultRouteMessage(seq: number, gateway: string, ifindex: number) {
  const rtmsg = new Uint8Array(12); // family, dst_len, src_len, tos, table, protocol, scope, type, flags
  rtmsg[0] = AF_INET;
  rtmsg[1] = 0;
  rtmsg[4] = RT_TABLE_MAIN;
  rtmsg[5] = RTPROT_BOOT;
  rtmsg[6] = RT_SCOPE_UNIVERSE;
  rtmsg[7] = RTN_UNICAST;
  const attrs = [
    ipv4Attr(RTA_DST, "0.0.0.0"),
    ipv4Attr(RTA_GATEWAY, gateway),
    u32Attr(RTA_OIF, ifindex),
  ];
  const flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  return message(RTM_NEWROUTE, flags, seq, rtmsg, attrs);
}

/** One parsed ACK: the sequence number it answers and its errno (0 = success). */
export interface Ack {
  seq: number;
  errno: number;
}

/** Reads the NLMSG_ERROR messages (ACKs) out of a received datagram. */
export function parseAcks(buf: Uint8Array): Ack[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const acks: Ack[] = [];
  let off = 0;
  while (off + 16 <= buf.byteLength) {
    const len = view.getUint32(off, true);
    if (len < 16 || off + len > buf.byteLength) break;
    const type = view.getUint16(off + 4, true);
    if (type === NLMSG_ERROR && len >= 20) {
      // nlmsgerr: int error (negative errno), then the original header (its seq at +8).
      const error = view.getInt32(off + 16, true);
      const seq = len >= 36 ? view.getUint32(off + 20 + 8, true) : view.getUint32(off + 8, true);
      acks.push({ seq, errno: error === 0 ? 0 : -error });
    }
    off += align4(len);
  }
  return acks;
}
