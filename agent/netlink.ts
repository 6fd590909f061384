/**
 * The rtnetlink requests kestrel sends to bring up a guest (link up + MTU,
 * IPv4 address, default route) and the ACK parser, all from the shared pure
 * encoder (src/shared/rtnetlink.ts, the one the host uses); only the socket
 * (agent/netlink_socket.ts, over kestrel's own libc binding) is the agent's.
 *
 * @module
 */
import {
  linkUpRequest,
  newAddrRequest,
  newDefaultRouteRequest,
  NLM_F,
  NLMSG,
  RTM,
} from "../src/shared/rtnetlink.ts";

export { type Ack, ipv4Bytes, parseAcks } from "../src/shared/rtnetlink.ts";

export const NETLINK_ROUTE = 0;
export const RTM_NEWLINK = RTM.NEWLINK;
export const RTM_NEWADDR = RTM.NEWADDR;
export const RTM_NEWROUTE = RTM.NEWROUTE;
export const NLMSG_ERROR = NLMSG.ERROR;
export const NLM_F_REQUEST = NLM_F.REQUEST;
export const NLM_F_ACK = NLM_F.ACK;
export const NLM_F_EXCL = NLM_F.EXCL;
export const NLM_F_CREATE = NLM_F.CREATE;

/** RTM_NEWLINK on an existing link: set IFF_UP (and the MTU when given). */
export function linkUpMessage(seq: number, ifindex: number, mtu?: number): Uint8Array {
  return linkUpRequest(seq, ifindex, mtu);
}

/** RTM_NEWADDR: `address/prefix` on `ifindex`, with the broadcast address below /31. */
export function addAddressMessage(
  seq: number,
  ifindex: number,
  address: string,
  prefix: number,
  broadcast: string,
): Uint8Array {
  return newAddrRequest(seq, {
    index: ifindex,
    address,
    prefixlen: prefix,
    broadcast: prefix < 31 ? broadcast : undefined,
  });
}

/** RTM_NEWROUTE: default route (0.0.0.0/0) via `gateway` out of `ifindex`, main table. */
export function addDefaultRouteMessage(seq: number, gateway: string, ifindex: number): Uint8Array {
  return newDefaultRouteRequest(seq, gateway, ifindex);
}
