/**
 * Which network destinations a download may reach. The daemon fetches
 * manifests and artifacts as root from wherever an API caller points it, so
 * the destination is checked before every request and every redirect hop:
 *
 * - link-local (169.254.0.0/16, fe80::/10: cloud metadata services live
 *   here), unspecified, multicast and reserved addresses: always refused;
 * - loopback and private ranges (10/8, 172.16/12, 192.168/16, 100.64/10,
 *   fc00::/7): refused unless the policy allows them.
 *
 * Pure: addresses in, verdicts out.
 *
 * @module
 */

export type AddressClass = "public" | "private" | "loopback" | "link_local" | "reserved";

export interface SourcePolicy {
  /** Loopback and private ranges may be reached. */
  allowPrivate: boolean;
}

function v4Octets(ip: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return null;
  const o = m.slice(1).map(Number);
  return o.every((n) => n <= 255) ? o : null;
}

function classifyV4([a, b, c]: number[]): AddressClass {
  if (a === 127) return "loopback";
  if (a === 169 && b === 254) return "link_local";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
  if (a === 100 && b >= 64 && b <= 127) return "private";
  if (a === 0 || a >= 224 || (a === 192 && b === 0 && c === 0)) return "reserved";
  return "public";
}

/** The 8 16-bit groups of an IPv6 address (an embedded IPv4 tail allowed), or null. */
function v6Groups(ip: string): number[] | null {
  let s = ip.toLowerCase();
  const pct = s.indexOf("%");
  if (pct >= 0) s = s.slice(0, pct);
  const tail = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s);
  if (tail) {
    const o = v4Octets(tail[1]);
    if (!o) return null;
    s = s.slice(0, -tail[1].length) + `${((o[0] << 8) | o[1]).toString(16)}:` +
      ((o[2] << 8) | o[3]).toString(16);
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === "" ? [] : part.split(":"));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const missing = 8 - head.length - rest.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return all.map((g) => parseInt(g, 16));
}

/** Classifies an IP address literal; `null` when it is not one. */
export function classifyAddress(ip: string): AddressClass | null {
  const v4 = v4Octets(ip);
  if (v4) return classifyV4(v4);
  const g = v6Groups(ip.replace(/^\[|\]$/g, ""));
  if (!g) return null;
  const v4tail = [g[6] >> 8, g[6] & 255, g[7] >> 8, g[7] & 255];
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(5) && g[5] === 0xffff) return classifyV4(v4tail); // ::ffff:a.b.c.d
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) {
    return classifyV4(v4tail); // NAT64 64:ff9b::a.b.c.d
  }
  if (zeroUpTo(7) && g[7] === 1) return "loopback";
  if (zeroUpTo(8)) return "reserved";
  if ((g[0] & 0xffc0) === 0xfe80) return "link_local";
  if ((g[0] & 0xfe00) === 0xfc00) return "private";
  if ((g[0] & 0xff00) === 0xff00) return "reserved";
  return "public";
}

/** Why `cls` is refused under `policy`, or null when it may be reached. */
export function refusal(cls: AddressClass, policy: SourcePolicy): string | null {
  switch (cls) {
    case "public":
      return null;
    case "link_local":
      return "link-local addresses (cloud metadata services) are never fetched";
    case "reserved":
      return "unspecified, multicast and reserved addresses are never fetched";
    case "loopback":
    case "private":
      return policy.allowPrivate ? null : `${cls} addresses are refused for this source ` +
        "(the operator can allow them with volantd --allow-private-sources)";
  }
}
