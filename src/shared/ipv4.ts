/**
 * IPv4 and CIDR arithmetic, the one copy for the host (IPAM, networking,
 * setup) and the agent (eth0 configuration). Addresses are unsigned 32-bit
 * numbers here; callers turn a `null` into their own error naming their field.
 *
 * @module
 */

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Dotted quad to an unsigned 32-bit number, or null when `text` is not one. */
export function ipv4Number(text: string): number | null {
  const m = DOTTED.exec(text);
  if (!m) return null;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return null;
    n = n * 256 + octet;
  }
  return n;
}

/** An unsigned 32-bit number to a dotted quad. */
export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** "192.168.127.1" -> 4 bytes in network order; throws a TypeError on anything else. */
export function ipv4Bytes(text: string): Uint8Array<ArrayBuffer> {
  const n = ipv4Number(text);
  if (n === null) throw new TypeError(`not an IPv4 address: "${text}"`);
  return new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

/** 4 bytes in network order to a dotted quad. */
export function ipv4String(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** The netmask of a prefix length 0..32 as a number (/24 -> 0xffffff00). */
export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The network number of `address` under `prefix`. */
export function networkNumber(address: number, prefix: number): number {
  return (address & prefixMask(prefix)) >>> 0;
}

/** The broadcast number of `address` under `prefix`. */
export function broadcastNumber(address: number, prefix: number): number {
  return (networkNumber(address, prefix) | (~prefixMask(prefix) >>> 0)) >>> 0;
}

/** `a.b.c.d/p` split, the address checked; null when malformed or the prefix is over 32. */
export function splitCidr(text: string): { address: number; prefix: number } | null {
  const slash = text.indexOf("/");
  if (slash < 0 || !/^\d{1,2}$/.test(text.slice(slash + 1))) return null;
  const prefix = Number(text.slice(slash + 1));
  const address = ipv4Number(text.slice(0, slash));
  return address === null || prefix > 32 ? null : { address, prefix };
}
