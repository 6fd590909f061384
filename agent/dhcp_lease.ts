/**
 * DHCP leases as busybox `udhcpc` hands them to its script: the script
 * kestrel gives it only prints the lease on one tab-separated line (udhcpc
 * exports `ip`, `subnet`, `router`, `dns`, `hostname`, `domain`, `lease`,
 * `mtu`, `serverid` and passes the event as $1); kestrel applies it itself
 * through netlink. Pure.
 *
 * @module
 */
import { deriveNetwork, type NetworkConfig } from "./boot_config.ts";

export const LEASE_TAG = "KESTREL_DHCP";
const FIELDS = ["ip", "subnet", "router", "dns", "hostname", "domain", "lease", "mtu", "serverid"];

/** The udhcpc script: one line per event on stdout, nothing else. */
export function udhcpcScript(shell: string): string {
  const fmt = [LEASE_TAG, "%s", ...FIELDS.map((f) => `${f}=%s`)].join("\\t");
  const vars = FIELDS.map((f) => `"$${f}"`).join(" ");
  return `#!${shell} sh\nprintf '${fmt}\\n' "$1" ${vars}\n`;
}

export interface DhcpEvent {
  /** udhcpc's event: deconfig, bound, renew, leasefail, nak. */
  event: string;
  ip?: string;
  subnet?: string;
  /** First router of the option. */
  router?: string;
  dns: string[];
  hostname?: string;
  domain?: string;
  /** Lease time in seconds. */
  lease?: number;
  mtu?: number;
  server?: string;
}

/** Parses one script line; null for any other output. */
export function parseLeaseLine(line: string): DhcpEvent | null {
  const parts = line.replace(/\r?\n$/, "").split("\t");
  if (parts[0] !== LEASE_TAG || parts.length < 2) return null;
  const kv = new Map<string, string>();
  for (const p of parts.slice(2)) {
    const eq = p.indexOf("=");
    if (eq > 0 && p.slice(eq + 1) !== "") kv.set(p.slice(0, eq), p.slice(eq + 1).trim());
  }
  const num = (k: string) => kv.has(k) && /^\d+$/.test(kv.get(k)!) ? Number(kv.get(k)) : undefined;
  return {
    event: parts[1],
    ip: kv.get("ip"),
    subnet: kv.get("subnet"),
    router: kv.get("router")?.split(/\s+/)[0],
    dns: (kv.get("dns") ?? "").split(/\s+/).filter((s) => s !== ""),
    hostname: kv.get("hostname"),
    domain: kv.get("domain"),
    lease: num("lease"),
    mtu: num("mtu"),
    server: kv.get("serverid"),
  };
}

/** `255.255.255.0` -> 24; throws on a non-contiguous mask. */
export function maskToPrefix(mask: string): number {
  const n = mask.split(".").reduce((a, o) => a * 256 + Number(o), 0);
  const bits = n.toString(2).padStart(32, "0");
  if (!/^1*0*$/.test(bits)) throw new Error(`DHCP: subnet mask ${mask} is not contiguous`);
  return bits.indexOf("0") === -1 ? 32 : bits.indexOf("0");
}

/** The eth0 configuration a bound/renew lease gives (validated like the cmdline's). */
export function leaseNetwork(e: DhcpEvent): NetworkConfig {
  if (!e.ip) throw new Error(`DHCP ${e.event} without an address`);
  const prefix = maskToPrefix(e.subnet ?? "255.255.255.0");
  return deriveNetwork(
    `${e.ip}/${prefix}`,
    e.router,
    e.mtu === undefined ? undefined : String(e.mtu),
  );
}
