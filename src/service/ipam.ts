/**
 * IPv4 address management. The arithmetic is pure; leases live in the store
 * (unique per address and per VM), and `allocate` must run inside the
 * caller's store transaction so concurrent creates cannot pick the same
 * address. Addresses are compared as numbers, so .2 < .10 < .100 (Volant
 * sorted them as text).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { VolantError } from "../errors.ts";
import { formatIpv4, ipv4Number, networkNumber } from "../shared/ipv4.ts";
import type { LeaseRepo } from "./store_port.ts";

export { formatIpv4 };

export interface Pool {
  /** Normalised `network/prefix`. */
  subnet: string;
  prefix: number;
  /** First host address: the bridge's address and the guests' gateway. */
  gateway: string;
  /** Inclusive lease range. */
  start: string;
  end: string;
  startNum: number;
  endNum: number;
  gatewayNum: number;
  capacity: number;
}

function invalid(field: string, message: string): VolantError {
  return new VolantError("invalid_input", `${field}: ${message}`, {
    problems: [{ field, message }],
  });
}

/** Dotted quad to a 32-bit unsigned number; throws invalid_input naming `field`. */
export function parseIpv4(text: string, field = "ip"): number {
  const n = ipv4Number(text);
  if (n !== null) return n;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) throw invalid(field, `"${text}" has an octet over 255`);
  throw invalid(field, `"${text}" is not an IPv4 address`);
}

/** `a.b.c.d/p` to its network number and prefix (host bits must be zero). */
export function parseCidr(cidr: string, field = "subnet"): { network: number; prefix: number } {
  if (!/^[^/]+\/\d{1,2}$/.test(cidr)) {
    throw invalid(field, `"${cidr}" is not in CIDR form a.b.c.d/prefix`);
  }
  const prefix = Number(cidr.slice(cidr.indexOf("/") + 1));
  if (prefix < 8 || prefix > 30) {
    throw invalid(field, `prefix /${prefix} must be between /8 and /30`);
  }
  const addr = parseIpv4(cidr.slice(0, cidr.indexOf("/")), field);
  const network = networkNumber(addr, prefix);
  if (network !== addr) {
    throw invalid(
      field,
      `"${cidr}" has host bits set (network is ${formatIpv4(network)}/${prefix})`,
    );
  }
  return { network: addr, prefix };
}

/** Host offset of the first leased address by default: Volant's documented `.100`. */
export const DEFAULT_POOL_OFFSET = 100;

/**
 * The pool for `subnet`: gateway = network+1; default range network+100 ..
 * broadcast-1 (Volant's documented `.100`-`.254` of a /24), or gateway+1 ..
 * broadcast-1 in a subnet too small for that. A configured start or end (either
 * may be given alone) must lie inside the subnet's host addresses, and the
 * range must not contain the gateway.
 */
export function planPool(subnet: string, range?: { start?: string; end?: string }): Pool {
  const { network, prefix } = parseCidr(subnet);
  const broadcast = (network + 2 ** (32 - prefix) - 1) >>> 0;
  const gatewayNum = network + 1;
  let startNum = network + DEFAULT_POOL_OFFSET < broadcast - 1
    ? network + DEFAULT_POOL_OFFSET
    : gatewayNum + 1;
  let endNum = broadcast - 1;
  if (range?.start || range?.end) {
    if (range.start) startNum = parseIpv4(range.start, "pool.start");
    if (range.end) endNum = parseIpv4(range.end, "pool.end");
    for (const [field, n] of [["pool.start", startNum], ["pool.end", endNum]] as const) {
      if (n <= network || n >= broadcast) {
        throw invalid(field, `${formatIpv4(n)} is not a host address of ${subnet}`);
      }
    }
    if (startNum > endNum) throw invalid("pool", "start is after end");
    if (gatewayNum >= startNum && gatewayNum <= endNum) {
      throw invalid("pool", `range must not contain the gateway ${formatIpv4(gatewayNum)}`);
    }
  }
  if (startNum > endNum) throw invalid("subnet", `${subnet} leaves no addresses for guests`);
  return {
    subnet: `${formatIpv4(network)}/${prefix}`,
    prefix,
    gateway: formatIpv4(gatewayNum),
    gatewayNum,
    start: formatIpv4(startNum),
    end: formatIpv4(endNum),
    startNum,
    endNum,
    capacity: endNum - startNum + 1,
  };
}

/** Lowest address of `pool` not in `leased` (ascending numbers), or null. */
export function lowestFree(pool: Pool, leased: readonly number[]): number | null {
  let candidate = pool.startNum;
  for (const n of leased) {
    if (n < candidate) continue;
    if (n > candidate) break;
    candidate++;
  }
  return candidate <= pool.endNum ? candidate : null;
}

/** Deterministic locally administered MAC: `02:` + 5 bytes of sha256(`<name>|<ip>`). */
export function macFor(name: string, ip: string): string {
  const digest = createHash("sha256").update(`${name}|${ip}`).digest();
  return ["02", ...[...digest.subarray(0, 5)].map((b) => b.toString(16).padStart(2, "0"))].join(
    ":",
  );
}

/** TAP device for a VM row id (contract: docs/development.md). */
export const TAP_PREFIX = "vtap";
export function tapFor(id: number): string {
  return `${TAP_PREFIX}${id}`;
}

/** Leases over a store. Call `allocate` inside the store transaction that creates the VM. */
export class Ipam {
  readonly pool: Pool;
  readonly #leases: LeaseRepo;

  constructor(leases: LeaseRepo, pool: Pool) {
    this.#leases = leases;
    this.pool = pool;
  }

  /** The lowest free address; throws `exhausted` (409) naming the pool. */
  next(): number {
    const free = this.#leases.lowestFree(this.pool.startNum, this.pool.endNum);
    if (free === null) {
      throw new VolantError(
        "exhausted",
        `address pool ${this.pool.start}-${this.pool.end} of ${this.pool.subnet} is exhausted (${this.pool.capacity} addresses leased)`,
        { details: { pool: `${this.pool.start}-${this.pool.end}`, subnet: this.pool.subnet } },
      );
    }
    return free;
  }

  /** Leases the lowest free address to `vmId` (call inside the store transaction). */
  allocate(vmId: number, now: string): string {
    const free = this.next();
    this.#leases.insert(free, vmId, now);
    return formatIpv4(free);
  }

  release(vmId: number): void {
    this.#leases.releaseVm(vmId);
  }
}
