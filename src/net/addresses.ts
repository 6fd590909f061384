/**
 * IPv4 addresses over rtnetlink: parse a CIDR, list (one dump), add, delete.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import {
  decodeAddr,
  delAddrRequest,
  getAddrRequest,
  newAddrRequest,
  RTM,
} from "../shared/rtnetlink.ts";
import { formatIpv4, networkNumber, splitCidr } from "../shared/ipv4.ts";
import type { NetlinkSocket } from "./netlink_socket.ts";
import { requireLink } from "./links.ts";

export interface Cidr {
  address: string;
  prefixlen: number;
}

/** Parses "192.168.127.1/24"; throws invalid_input naming `field`. */
export function parseCidr(text: string, field = "cidr"): Cidr {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text);
  const bad = (why: string) =>
    new VolantError("invalid_input", `${field}: ${why}`, { problems: [{ field, message: why }] });
  if (!m) throw bad(`"${text}" is not an IPv4 CIDR such as 192.168.127.1/24`);
  const prefixlen = Number(m[2]);
  if (prefixlen > 32) throw bad(`prefix length ${prefixlen} is above 32`);
  if (splitCidr(text) === null) throw bad(`"${m[1]}" is not an IPv4 address`);
  return { address: m[1], prefixlen };
}

/** The network of a CIDR: "192.168.127.9/24" -> "192.168.127.0/24". */
export function networkOf(c: Cidr): string {
  const { address } = splitCidr(`${c.address}/${c.prefixlen}`)!;
  return `${formatIpv4(networkNumber(address, c.prefixlen))}/${c.prefixlen}`;
}

export interface AddressView {
  index: number;
  /** Interface name (resolved by the caller's dump). */
  link?: string;
  address: string;
  prefixlen: number;
  label?: string;
}

/** All IPv4 addresses, optionally only those of link index `index`. */
export function listAddresses(nl: NetlinkSocket, index?: number): AddressView[] {
  return nl.dump((seq) => getAddrRequest(seq), "list", "ipv4 addresses")
    .filter((m) => m.type === RTM.NEWADDR)
    .map(decodeAddr)
    .filter((a) => index === undefined || a.index === index)
    .map((a) => ({ index: a.index, address: a.address, prefixlen: a.prefixlen, label: a.label }));
}

/** Adds `cidr` to link `name` (EEXIST if already there). */
export function addAddress(nl: NetlinkSocket, name: string, cidr: string): void {
  const c = parseCidr(cidr);
  const link = requireLink(nl, name, `add address ${cidr} to`);
  nl.request(
    (seq) => newAddrRequest(seq, { index: link.index, ...c }),
    `add address ${cidr} to`,
    name,
  );
}

/** Removes `cidr` from link `name` (EADDRNOTAVAIL if it is not there). */
export function deleteAddress(nl: NetlinkSocket, name: string, cidr: string): void {
  const c = parseCidr(cidr);
  const link = requireLink(nl, name, `delete address ${cidr} from`);
  nl.request(
    (seq) => delAddrRequest(seq, { index: link.index, ...c }),
    `delete address ${cidr} from`,
    name,
  );
}
