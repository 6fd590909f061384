/**
 * rtnetlink in pure TypeScript: message and attribute encoding, request
 * builders and reply decoders, the one copy for the host (src/net) and the
 * agent (eth0 bring-up). No I/O here: each side keeps its own small socket
 * over its own FFI binding (src/net/netlink_socket.ts, agent/netlink_socket.ts),
 * and every byte is testable against fixtures captured from the kernel and iproute2.
 *
 * Layouts (all host-endian, little-endian on the machines we run on):
 * nlmsghdr {u32 len, u16 type, u16 flags, u32 seq, u32 pid} (16 bytes);
 * rtattr {u16 len, u16 type, data, pad to 4}; ifinfomsg (16 bytes);
 * ifaddrmsg (8 bytes); nlmsgerr {i32 error, nlmsghdr original, ...}.
 *
 * @module
 */
import { ipv4Bytes, ipv4String } from "./ipv4.ts";

export { ipv4Bytes, ipv4String };

export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const;
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
} as const;
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  DUMP_INTR: 0x10,
  ROOT: 0x100,
  MATCH: 0x200,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  // In NLMSG_ERROR replies:
  CAPPED: 0x100,
  ACK_TLVS: 0x200,
} as const;
export const IFLA = {
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  MASTER: 10,
  OPERSTATE: 16,
  LINKINFO: 18,
  GROUP: 27,
  EXT_MASK: 29,
} as const;
export const IFLA_INFO = { KIND: 1, DATA: 2, SLAVE_KIND: 4 } as const;
export const IFLA_TUN = { OWNER: 1, GROUP: 2, TYPE: 3, PI: 4, VNET_HDR: 5, PERSIST: 6 } as const;
export const IFA = { ADDRESS: 1, LOCAL: 2, LABEL: 3, BROADCAST: 4 } as const;
export const RTA = { DST: 1, OIF: 4, GATEWAY: 5 } as const;
export const IFF = {
  UP: 0x1,
  BROADCAST: 0x2,
  LOOPBACK: 0x8,
  RUNNING: 0x40,
  LOWER_UP: 0x10000,
} as const;
export const NLMSGERR_ATTR_MSG = 1;
export const AF_UNSPEC = 0;
export const AF_INET = 2;
const NLA_TYPE_MASK = 0x3fff; // strips NLA_F_NESTED / NLA_F_NET_BYTEORDER
const RT_SCOPE_UNIVERSE = 0;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RTN_UNICAST = 1;

const OPERSTATES = ["unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"];

// Made on first use: the agent's boot path never encodes or decodes a string here.
let encoder: TextEncoder | undefined;
let decoder: TextDecoder | undefined;
const encode = (s: string) => (encoder ??= new TextEncoder()).encode(s);

const align4 = (n: number) => (n + 3) & ~3;

// ---- encoding ----

/** One attribute, padded to 4 bytes. */
export function attr(type: number, data: Uint8Array): Uint8Array<ArrayBuffer> {
  const len = 4 + data.byteLength;
  const out = new Uint8Array(align4(len));
  const v = new DataView(out.buffer);
  v.setUint16(0, len, true);
  v.setUint16(2, type, true);
  out.set(data, 4);
  return out;
}

export function attrU32(type: number, value: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, value >>> 0, true);
  return attr(type, b);
}

/** NUL-terminated string attribute (what the kernel expects for names and kinds). */
export function attrString(type: number, s: string): Uint8Array<ArrayBuffer> {
  const raw = encode(s);
  const b = new Uint8Array(raw.byteLength + 1);
  b.set(raw);
  return attr(type, b);
}

export function attrNested(type: number, children: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return attr(type, concat(children));
}

export function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

export interface Header {
  type: number;
  flags: number;
  seq: number;
  pid?: number;
}

/** nlmsghdr + fixed body + attributes. */
export function message(
  h: Header,
  body: Uint8Array,
  attrs: Uint8Array[] = [],
): Uint8Array<ArrayBuffer> {
  const payload = concat([body, ...attrs]);
  const out = new Uint8Array(16 + payload.byteLength);
  const v = new DataView(out.buffer);
  v.setUint32(0, out.byteLength, true);
  v.setUint16(4, h.type, true);
  v.setUint16(6, h.flags, true);
  v.setUint32(8, h.seq >>> 0, true);
  v.setUint32(12, h.pid ?? 0, true);
  out.set(payload, 16);
  return out;
}

export interface IfInfo {
  family?: number;
  type?: number;
  index?: number;
  flags?: number;
  change?: number;
}

export function ifinfomsg(i: IfInfo = {}): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  b[0] = i.family ?? AF_UNSPEC;
  v.setUint16(2, i.type ?? 0, true);
  v.setInt32(4, i.index ?? 0, true);
  v.setUint32(8, i.flags ?? 0, true);
  v.setUint32(12, i.change ?? 0, true);
  return b;
}

export interface IfAddr {
  family: number;
  prefixlen: number;
  flags?: number;
  scope?: number;
  index: number;
}

export function ifaddrmsg(a: IfAddr): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(8);
  b[0] = a.family;
  b[1] = a.prefixlen;
  b[2] = a.flags ?? 0;
  b[3] = a.scope ?? RT_SCOPE_UNIVERSE;
  new DataView(b.buffer).setUint32(4, a.index, true);
  return b;
}

/** "02:11:22:33:44:55" -> 6 bytes. */
export function macBytes(mac: string): Uint8Array<ArrayBuffer> {
  const parts = mac.split(":");
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new TypeError(`bad MAC address "${mac}"`);
  }
  return new Uint8Array(parts.map((p) => parseInt(p, 16)));
}

export function macString(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

// ---- request builders ----

const ACK_REQ = NLM_F.REQUEST | NLM_F.ACK;

/** RTM_NEWLINK creating a bridge (attribute order as iproute2: address, mtu, name, linkinfo). */
export function newBridgeRequest(
  seq: number,
  o: { name: string; mac: string; mtu?: number },
): Uint8Array<ArrayBuffer> {
  const attrs = [attr(IFLA.ADDRESS, macBytes(o.mac))];
  if (o.mtu !== undefined) attrs.push(attrU32(IFLA.MTU, o.mtu));
  attrs.push(attrString(IFLA.IFNAME, o.name));
  // The kind goes without a NUL, as iproute2 sends it (the kernel compares by length).
  attrs.push(attrNested(IFLA.LINKINFO, [attr(IFLA_INFO.KIND, encode("bridge"))]));
  return message(
    { type: RTM.NEWLINK, flags: ACK_REQ | NLM_F.EXCL | NLM_F.CREATE, seq },
    ifinfomsg(),
    attrs,
  );
}

/** RTM_DELLINK by name (the kernel resolves IFLA_IFNAME when the index is 0). */
export function delLinkRequest(seq: number, name: string): Uint8Array<ArrayBuffer> {
  return message({ type: RTM.DELLINK, flags: ACK_REQ, seq }, ifinfomsg(), [
    attrString(IFLA.IFNAME, name),
  ]);
}

/** RTM_DELLINK of every link in a device group: one kernel transaction for all of them. */
export function delGroupRequest(seq: number, group: number): Uint8Array<ArrayBuffer> {
  return message({ type: RTM.DELLINK, flags: ACK_REQ, seq }, ifinfomsg(), [
    attrU32(IFLA.GROUP, group),
  ]);
}

/** What RTM_SETLINK may change in one message. `master: 0` clears the master. */
export interface LinkChange {
  up?: boolean;
  mtu?: number;
  master?: number;
  mac?: string;
  /** Device group (0 is the default group every link starts in). */
  group?: number;
}

/** RTM_SETLINK by name: up/down, MTU, master (set or clear) and MAC in one request. */
export function setLinkRequest(seq: number, name: string, c: LinkChange): Uint8Array<ArrayBuffer> {
  const info = c.up === undefined
    ? ifinfomsg()
    : ifinfomsg({ flags: c.up ? IFF.UP : 0, change: IFF.UP });
  const attrs = [attrString(IFLA.IFNAME, name)];
  if (c.mac !== undefined) attrs.push(attr(IFLA.ADDRESS, macBytes(c.mac)));
  if (c.mtu !== undefined) attrs.push(attrU32(IFLA.MTU, c.mtu));
  if (c.master !== undefined) attrs.push(attrU32(IFLA.MASTER, c.master));
  if (c.group !== undefined) attrs.push(attrU32(IFLA.GROUP, c.group));
  return message({ type: RTM.SETLINK, flags: ACK_REQ, seq }, info, attrs);
}

/** RTM_GETLINK for one link by name (single reply) or a dump of all (no name). */
export function getLinkRequest(seq: number, name?: string): Uint8Array<ArrayBuffer> {
  if (name === undefined) {
    return message({ type: RTM.GETLINK, flags: NLM_F.REQUEST | NLM_F.DUMP, seq }, ifinfomsg());
  }
  return message({ type: RTM.GETLINK, flags: NLM_F.REQUEST, seq }, ifinfomsg(), [
    attrString(IFLA.IFNAME, name),
  ]);
}

/**
 * RTM_NEWADDR for an IPv4 address (IFA_LOCAL then IFA_ADDRESS, as iproute2
 * sends, then IFA_BROADCAST when given).
 */
export function newAddrRequest(
  seq: number,
  o: { index: number; address: string; prefixlen: number; replace?: boolean; broadcast?: string },
): Uint8Array<ArrayBuffer> {
  const a = ipv4Bytes(o.address);
  const flags = ACK_REQ | NLM_F.CREATE | (o.replace ? NLM_F.REPLACE : NLM_F.EXCL);
  const attrs = [attr(IFA.LOCAL, a), attr(IFA.ADDRESS, a)];
  if (o.broadcast !== undefined) attrs.push(attr(IFA.BROADCAST, ipv4Bytes(o.broadcast)));
  return message(
    { type: RTM.NEWADDR, flags, seq },
    ifaddrmsg({ family: AF_INET, prefixlen: o.prefixlen, index: o.index }),
    attrs,
  );
}

export function delAddrRequest(
  seq: number,
  o: { index: number; address: string; prefixlen: number },
): Uint8Array<ArrayBuffer> {
  const a = ipv4Bytes(o.address);
  return message(
    { type: RTM.DELADDR, flags: ACK_REQ, seq },
    ifaddrmsg({ family: AF_INET, prefixlen: o.prefixlen, index: o.index }),
    [attr(IFA.LOCAL, a), attr(IFA.ADDRESS, a)],
  );
}

/** RTM_NEWLINK on an existing link by index: set IFF_UP (and the MTU when given). */
export function linkUpRequest(seq: number, index: number, mtu?: number): Uint8Array<ArrayBuffer> {
  const attrs = mtu === undefined ? [] : [attrU32(IFLA.MTU, mtu)];
  return message(
    { type: RTM.NEWLINK, flags: ACK_REQ, seq },
    ifinfomsg({ index, flags: IFF.UP, change: IFF.UP }),
    attrs,
  );
}

/** RTM_NEWROUTE: the default route (0.0.0.0/0) via `gateway` out of link `index`, main table. */
export function newDefaultRouteRequest(
  seq: number,
  gateway: string,
  index: number,
): Uint8Array<ArrayBuffer> {
  // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags (u32).
  const rtmsg = new Uint8Array(12);
  rtmsg.set([AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST]);
  return message(
    { type: RTM.NEWROUTE, flags: ACK_REQ | NLM_F.CREATE | NLM_F.EXCL, seq },
    rtmsg,
    [
      attr(RTA.DST, ipv4Bytes("0.0.0.0")),
      attr(RTA.GATEWAY, ipv4Bytes(gateway)),
      attrU32(RTA.OIF, index),
    ],
  );
}

/** RTM_GETADDR dump of IPv4 addresses. */
export function getAddrRequest(seq: number): Uint8Array<ArrayBuffer> {
  return message(
    { type: RTM.GETADDR, flags: NLM_F.REQUEST | NLM_F.DUMP, seq },
    ifaddrmsg({ family: AF_INET, prefixlen: 0, index: 0 }),
  );
}

// ---- decoding ----

export interface Message {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after the 16-byte header, up to nlmsg_len. */
  payload: Uint8Array;
}

/** Splits one datagram into messages; throws on a truncated or malformed header. */
export function splitMessages(buf: Uint8Array): Message[] {
  const out: Message[] = [];
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + 16 <= buf.byteLength) {
    const len = v.getUint32(off, true);
    if (len < 16 || off + len > buf.byteLength) {
      throw new RangeError(`netlink: bad message length ${len} at offset ${off}`);
    }
    out.push({
      type: v.getUint16(off + 4, true),
      flags: v.getUint16(off + 6, true),
      seq: v.getUint32(off + 8, true),
      pid: v.getUint32(off + 12, true),
      payload: buf.subarray(off + 16, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Attributes of a region; the last one of a type wins. Nested flags are masked off. */
export function parseAttrs(buf: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + 4 <= buf.byteLength) {
    const len = v.getUint16(off, true);
    if (len < 4 || off + len > buf.byteLength) break;
    out.set(v.getUint16(off + 2, true) & NLA_TYPE_MASK, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

export function u32(b: Uint8Array | undefined): number | undefined {
  if (!b || b.byteLength < 4) return undefined;
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
}

/** NUL-terminated string attribute. */
export function str(b: Uint8Array | undefined): string | undefined {
  if (!b) return undefined;
  const nul = b.indexOf(0);
  return (decoder ??= new TextDecoder()).decode(nul < 0 ? b : b.subarray(0, nul));
}

/** An NLMSG_ERROR payload: errno 0 is an ACK. `message` is the kernel's extended ACK text. */
export interface ErrorReply {
  errno: number;
  message?: string;
}

export function decodeError(m: Message): ErrorReply {
  const v = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
  const errno = -v.getInt32(0, true) | 0; // | 0: an ACK is 0, not -0
  if (!(m.flags & NLM_F.ACK_TLVS)) return { errno };
  // TLVs follow the echoed request: its header only when capped, else the whole request.
  const echoedLen = m.flags & NLM_F.CAPPED ? 16 : v.getUint32(4, true);
  const tlvs = parseAttrs(m.payload.subarray(4 + align4(echoedLen)));
  const message = str(tlvs.get(NLMSGERR_ATTR_MSG));
  return message ? { errno, message } : { errno };
}

/** One ACK: the sequence number of the request it answers and its errno (0 = success). */
export interface Ack {
  seq: number;
  errno: number;
}

/** The NLMSG_ERROR replies (ACKs) of a datagram, matched by the echoed request's sequence. */
export function parseAcks(buf: Uint8Array): Ack[] {
  const acks: Ack[] = [];
  for (const m of splitMessagesLenient(buf)) {
    if (m.type !== NLMSG.ERROR || m.payload.byteLength < 4) continue;
    const v = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
    // nlmsgerr: int error (negative errno), then the echoed request header (its seq at +8).
    const seq = m.payload.byteLength >= 20 ? v.getUint32(4 + 8, true) : m.seq;
    acks.push({ seq, errno: -v.getInt32(0, true) | 0 });
  }
  return acks;
}

/** Like splitMessages, but stops at a malformed header instead of throwing. */
function splitMessagesLenient(buf: Uint8Array): Message[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let end = 0;
  while (end + 16 <= buf.byteLength) {
    const len = v.getUint32(end, true);
    if (len < 16 || end + len > buf.byteLength) break;
    end += align4(len);
  }
  return splitMessages(buf.subarray(0, Math.min(end, buf.byteLength)));
}

/** Tun/tap details the kernel reports in IFLA_INFO_DATA for kind "tun". */
export interface TunInfo {
  /** 1 = tun, 2 = tap. */
  type?: number;
  owner?: number;
  vnetHdr?: boolean;
  persist?: boolean;
}

export interface Link {
  index: number;
  name: string;
  /** IFF_* flags. */
  flags: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Operational state: up, down, unknown, lowerlayerdown, ... */
  state: string;
  mtu: number;
  /** Device group (IFLA_GROUP; 0 by default). */
  group: number;
  mac?: string;
  /** ifindex of the master (bridge), if enslaved. */
  masterIndex?: number;
  /** rtnl link kind: bridge, tun, veth, ... (undefined for physical/loopback). */
  kind?: string;
  tun?: TunInfo;
}

export function decodeLink(m: Message): Link {
  const p = m.payload;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const index = v.getInt32(4, true);
  const flags = v.getUint32(8, true);
  const a = parseAttrs(p.subarray(16));
  const mac = a.get(IFLA.ADDRESS);
  const operstate = a.get(IFLA.OPERSTATE)?.[0];
  const link: Link = {
    index,
    name: str(a.get(IFLA.IFNAME)) ?? "",
    flags,
    up: (flags & IFF.UP) !== 0,
    state: operstate === undefined ? "unknown" : OPERSTATES[operstate] ?? `state ${operstate}`,
    mtu: u32(a.get(IFLA.MTU)) ?? 0,
    group: u32(a.get(IFLA.GROUP)) ?? 0,
  };
  if (mac && mac.byteLength === 6) link.mac = macString(mac);
  const master = u32(a.get(IFLA.MASTER));
  if (master) link.masterIndex = master;
  const info = a.get(IFLA.LINKINFO);
  if (info) {
    const ia = parseAttrs(info);
    link.kind = str(ia.get(IFLA_INFO.KIND));
    const data = ia.get(IFLA_INFO.DATA);
    if (link.kind === "tun" && data) {
      const t = parseAttrs(data);
      link.tun = {
        type: t.get(IFLA_TUN.TYPE)?.[0],
        owner: u32(t.get(IFLA_TUN.OWNER)),
        vnetHdr: t.has(IFLA_TUN.VNET_HDR) ? t.get(IFLA_TUN.VNET_HDR)![0] === 1 : undefined,
        persist: t.has(IFLA_TUN.PERSIST) ? t.get(IFLA_TUN.PERSIST)![0] === 1 : undefined,
      };
    }
  }
  return link;
}

export interface Address {
  index: number;
  family: number;
  prefixlen: number;
  /** IFA_LOCAL (the interface's own address), falling back to IFA_ADDRESS. */
  address: string;
  label?: string;
}

export function decodeAddr(m: Message): Address {
  const p = m.payload;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const a = parseAttrs(p.subarray(8));
  const raw = a.get(IFA.LOCAL) ?? a.get(IFA.ADDRESS);
  const out: Address = {
    index: v.getUint32(4, true),
    family: p[0],
    prefixlen: p[1],
    address: raw && p[0] === AF_INET ? ipv4String(raw) : "",
  };
  const label = str(a.get(IFA.LABEL));
  if (label) out.label = label;
  return out;
}
