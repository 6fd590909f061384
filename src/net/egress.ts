/**
 * Per-VM network policy in nftables: `egress` (allow-all | deny-all | an
 * allow-list of CIDRs and ports) for what a guest may open beyond the bridge,
 * and `isolation` (no frames to or from other guests on the bridge). Two
 * tables of our own, next to `inet volant` (which ensureNat replaces as a
 * whole, so per-VM state must not live there):
 *
 * - `inet volant_egress`: a forward-hook chain; replies to connections
 *   already allowed pass, then each policed guest (by source address) jumps
 *   to its own chain: its allow rules, then drop.
 * - `bridge volant_l2`: guests with a policy may only send from their own
 *   address (no spoofing another guest's source to borrow its egress), and
 *   isolated guests' TAPs exchange no frames with other bridge ports.
 *
 * A VM with the default policy (allow-all, not isolated) gets no rule, so
 * the default stays as before: peers reachable, internet through NAT. The
 * whole policy is rendered from the set of policed VMs and applied in one
 * `nft -f -` transaction; with none left both tables go.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { networkOf, parseCidr } from "./addresses.ts";
import { runNft } from "./nat.ts";
import { validateIfName } from "./names.ts";

export const EGRESS_TABLE = "volant_egress";
export const L2_TABLE = "volant_l2";

/** One allow-list entry: a destination network and optionally ports (tcp and udp, or one). */
export interface EgressRule {
  cidr: string;
  ports?: number[];
  protocol?: "tcp" | "udp";
}

export type Egress = "allow-all" | "deny-all" | { allow: EgressRule[] };

/** A VM's policy, keyed in the tables by its TAP and address. */
export interface VmNetPolicy {
  tap: string;
  ip: string;
  egress: Egress;
  isolation: boolean;
}

/** True when the policy changes nothing (no rule is rendered for it). */
export function isDefaultPolicy(p: Pick<VmNetPolicy, "egress" | "isolation">): boolean {
  return p.egress === "allow-all" && !p.isolation;
}

function ipv4(ip: string, field: string): string {
  const c = parseCidr(`${ip}/32`, field);
  return c.address;
}

function cidr(v: string, field: string): string {
  const withPrefix = v.includes("/") ? v : `${v}/32`;
  const c = parseCidr(withPrefix, field);
  return `${networkOf(c)}`;
}

function ports(list: number[] | undefined, field: string): string | null {
  if (!list || list.length === 0) return null;
  for (const p of list) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw new VolantError("invalid_input", `${field}: ${p} is not a port (1-65535)`, {
        problems: [{ field, message: `${p} is not a port (1-65535)` }],
      });
    }
  }
  const s = [...new Set(list)].sort((a, b) => a - b);
  return s.length === 1 ? `${s[0]}` : `{ ${s.join(", ")} }`;
}

function allowLines(r: EgressRule, i: number): string[] {
  const dst = `ip daddr ${cidr(r.cidr, `egress.allow[${i}].cidr`)}`;
  const p = ports(r.ports, `egress.allow[${i}].ports`);
  if (p === null) return [`    ${dst} accept`];
  const protos = r.protocol ? [r.protocol] : ["tcp", "udp"];
  return protos.map((proto) => `    ${dst} ${proto} dport ${p} accept`);
}

/** The `nft -f -` script for these VMs' policies; pure and deterministic. */
export function renderPolicies(vms: VmNetPolicy[], bridge: string): string {
  const policed = [...vms].filter((v) => !isDefaultPolicy(v))
    .sort((a, b) => a.tap.localeCompare(b.tap));
  const lines = [
    `table inet ${EGRESS_TABLE} {}`,
    `delete table inet ${EGRESS_TABLE}`,
    `table bridge ${L2_TABLE} {}`,
    `delete table bridge ${L2_TABLE}`,
  ];
  if (policed.length === 0) return lines.join("\n") + "\n";
  const egress = policed.filter((v) => v.egress !== "allow-all");
  const checked = policed.map((v) => ({
    ...v,
    tap: validateIfName(v.tap, "tap"),
    ip: ipv4(v.ip, "ip"),
  }));
  lines.push(
    `table inet ${EGRESS_TABLE} {`,
    `  chain forward {`,
    `    type filter hook forward priority filter; policy accept;`,
    ...(egress.length
      ? [
        `    ct state established,related accept`,
        // Frames between guests cross this hook too when br_netfilter is loaded: they are
        // not egress (isolation below decides about them).
        `    oifname "${validateIfName(bridge, "bridge")}" accept`,
      ]
      : []),
    ...checked.filter((v) => v.egress !== "allow-all").map((v) =>
      `    ip saddr ${v.ip} jump vm_${v.tap}`
    ),
    `  }`,
  );
  for (const v of checked) {
    if (v.egress === "allow-all") continue;
    const rules = v.egress === "deny-all" ? [] : v.egress.allow.flatMap(allowLines);
    lines.push(`  chain vm_${v.tap} {`, ...rules, `    counter drop`, `  }`);
  }
  lines.push(`}`);
  const isolated = checked.filter((v) => v.isolation);
  lines.push(
    `table bridge ${L2_TABLE} {`,
    // Anti-spoofing first: a policed guest speaks only with its own address.
    `  chain prerouting {`,
    `    type filter hook prerouting priority filter; policy accept;`,
    ...checked.flatMap((v) => [
      `    iifname "${v.tap}" ether type ip ip saddr != ${v.ip} counter drop`,
      `    iifname "${v.tap}" ether type arp arp saddr ip != ${v.ip} counter drop`,
    ]),
    `  }`,
    // Port to port only: frames to or from the host (the gateway) are not forwarded frames.
    `  chain forward {`,
    `    type filter hook forward priority filter; policy accept;`,
    ...isolated.flatMap((v) => [
      `    iifname "${v.tap}" counter drop`,
      `    oifname "${v.tap}" counter drop`,
    ]),
    `  }`,
    `}`,
  );
  return lines.join("\n") + "\n";
}

/**
 * Holds every VM's policy and applies the whole set on each change, so the
 * tables always equal the current map (one transaction per change).
 */
export class PolicyTables {
  readonly #vms = new Map<string, VmNetPolicy>();
  #queue: Promise<void> = Promise.resolve();
  constructor(readonly bridge: string, readonly nft = "nft") {}

  /** Applies the (empty) map: removes both tables whatever an earlier run left. */
  reset(): Promise<void> {
    const script = renderPolicies([], this.bridge);
    const run = this.#queue.then(() => runNft(["-f", "-"], script, this.nft).then(() => {}));
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Sets (or with null clears) the policy of the VM on TAP `name` and applies the result. */
  set(name: string, policy: VmNetPolicy | null): Promise<void> {
    const before = this.#vms.get(name);
    if (policy === null || isDefaultPolicy(policy)) {
      if (!before) return this.#queue;
      this.#vms.delete(name);
    } else {
      this.#vms.set(name, policy);
    }
    // Rendered (and so validated) before anything is queued.
    const script = renderPolicies([...this.#vms.values()], this.bridge);
    const run = this.#queue.then(() => runNft(["-f", "-"], script, this.nft).then(() => {}));
    // A failed apply is reported to its caller; the next change re-renders everything.
    this.#queue = run.catch(() => {});
    return run;
  }
}
