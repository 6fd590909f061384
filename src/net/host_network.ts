/**
 * The HostNetwork port (src/service/ports.ts) over netlink, /dev/net/tun and
 * nft. Every ensure-operation measures first, acts only on what differs, and
 * verifies afterwards; anything it created is removed again if a later step
 * fails. Each call opens its own netlink socket and closes it before returning.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { HostNetwork } from "../service/ports.ts";
import { addAddress, deleteAddress, listAddresses, parseCidr } from "./addresses.ts";
import { bridgeMac } from "./bridge.ts";
import { isErrno } from "./errno.ts";
import {
  createBridge,
  deleteLink,
  deleteLinks,
  getLink,
  listLinks,
  requireLink,
  setLink,
} from "./links.ts";
import type { Link, LinkChange } from "../shared/rtnetlink.ts";
import { NetlinkSocket } from "./netlink_socket.ts";
import { isVolantTap, validateIfName } from "./names.ts";
import {
  ensureIpForward,
  ensureNftTable,
  IP_FORWARD_PATH,
  type NatSpec,
  removeNftTable,
  renderRuleset,
} from "./nat.ts";
import { createTap } from "./tap.ts";
import { PolicyTables } from "./egress.ts";

export interface HostNetworkOptions {
  /** The nft binary (default "nft" on PATH). */
  nft?: string;
  /** Where ip_forward lives (tests may point elsewhere; default /proc/sys/net/ipv4/ip_forward). */
  ipForwardPath?: string;
  /** Host services guests may reach besides ICMP (default udp 53, 67 and tcp 53). */
  allowGuestServices?: NatSpec["allow"];
}

const TAP_TYPE = 2;

function withSocket<T>(fn: (nl: NetlinkSocket) => T): T {
  const nl = NetlinkSocket.open();
  try {
    return fn(nl);
  } finally {
    nl.close();
  }
}

/** Undoes a half-done ensure; a failing undo is reported with, not instead of, the cause. */
function undo(nl: NetlinkSocket, name: string, cause: unknown): never {
  try {
    deleteLink(nl, name);
  } catch (c) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new VolantError(
      cause instanceof VolantError ? cause.code : "internal",
      `${why}; removing the half-made ${name} also failed: ${(c as Error).message}`,
      { cause },
    );
  }
  throw cause;
}

function mismatch(what: string, name: string, detail: string): VolantError {
  return new VolantError("internal", `${what} ${name}: verification failed: ${detail}`);
}

/** Bridge present with its fixed MAC, MTU, gateway address and up. */
export function ensureBridgeSync(o: { name: string; gatewayCidr: string; mtu?: number }): void {
  const name = validateIfName(o.name, "bridge");
  const gw = parseCidr(o.gatewayCidr, "gatewayCidr");
  const mac = bridgeMac(name);
  withSocket((nl) => {
    let link = getLink(nl, name);
    let created = false;
    if (link && link.kind !== "bridge") {
      throw new VolantError(
        "conflict",
        `bridge ${name}: a ${link.kind ?? "non-bridge"} link of that name exists`,
      );
    }
    if (!link) {
      createBridge(nl, { name, mac });
      created = true;
      link = requireLink(nl, name);
    }
    try {
      // MTU is set after creation: only a user-set bridge MTU survives ports joining.
      const change: LinkChange = {};
      if (link.mac !== mac) change.mac = mac;
      if (o.mtu !== undefined && (created || link.mtu !== o.mtu)) change.mtu = o.mtu;
      if (Object.keys(change).length) setLink(nl, name, change, "configure bridge");
      const addrs = listAddresses(nl, link.index);
      if (!addrs.some((a) => a.address === gw.address && a.prefixlen === gw.prefixlen)) {
        // Same address with another prefix would be a second entry: replace it.
        for (const a of addrs.filter((a) => a.address === gw.address)) {
          deleteAddress(nl, name, `${a.address}/${a.prefixlen}`);
        }
        addAddress(nl, name, o.gatewayCidr);
      }
      if (!link.up) setLink(nl, name, { up: true }, "set up");
      const v = requireLink(nl, name);
      const addrsAfter = listAddresses(nl, v.index);
      if (v.mac !== mac) throw mismatch("bridge", name, `mac ${v.mac}, want ${mac}`);
      if (!v.up) throw mismatch("bridge", name, "not up");
      if (o.mtu !== undefined && v.mtu !== o.mtu) {
        throw mismatch("bridge", name, `mtu ${v.mtu}, want ${o.mtu}`);
      }
      if (!addrsAfter.some((a) => a.address === gw.address && a.prefixlen === gw.prefixlen)) {
        throw mismatch("bridge", name, `address ${o.gatewayCidr} missing`);
      }
    } catch (e) {
      if (created) undo(nl, name, e);
      throw e;
    }
  });
}

function tapFits(t: Link, owner: number | undefined): boolean {
  return t.kind === "tun" && t.tun?.type === TAP_TYPE && t.tun.vnetHdr !== false &&
    (owner === undefined ? t.tun.owner === undefined : t.tun.owner === owner);
}

/** Persistent TAP with the right owner, enslaved to `bridge` at the bridge's MTU, up. */
export function ensureTapSync(o: { name: string; bridge: string; owner?: number }): void {
  const name = validateIfName(o.name, "tap");
  const bridgeName = validateIfName(o.bridge, "bridge");
  withSocket((nl) => {
    const bridge = requireLink(nl, bridgeName, `attach tap ${name} to bridge`);
    if (bridge.kind !== "bridge") {
      throw new VolantError("conflict", `attach tap ${name}: ${bridgeName} is not a bridge`);
    }
    let tap = getLink(nl, name);
    if (tap && tap.kind !== "tun") {
      throw new VolantError(
        "conflict",
        `tap ${name}: a ${tap.kind ?? "non-tap"} link of that name exists`,
      );
    }
    if (tap && !tapFits(tap, o.owner)) {
      // Wrong owner or flags: TAPs are created before the VMM opens them, so recreate.
      deleteLink(nl, name);
      tap = null;
    }
    let created = false;
    if (!tap) {
      createTap(name, { owner: o.owner });
      created = true;
      tap = requireLink(nl, name);
    }
    try {
      const change: LinkChange = {};
      if (tap.masterIndex !== bridge.index) change.master = bridge.index;
      if (tap.mtu !== bridge.mtu) change.mtu = bridge.mtu;
      if (!tap.up) change.up = true;
      if (Object.keys(change).length) {
        setLink(nl, name, change, `attach to ${bridgeName} and set up`);
      }
      const v = requireLink(nl, name);
      if (v.masterIndex !== bridge.index) {
        throw mismatch("tap", name, `not a port of ${bridgeName}`);
      }
      if (!v.up) throw mismatch("tap", name, "not up");
      if (!tapFits(v, o.owner)) throw mismatch("tap", name, "owner or flags differ");
    } catch (e) {
      if (created) undo(nl, name, e);
      throw e;
    }
  });
}

/** Deletes a TAP; missing is fine; a non-TAP link of that name is refused. */
export function deleteTapSync(name: string): void {
  validateIfName(name, "tap");
  withSocket((nl) => {
    const link = getLink(nl, name);
    if (!link) return;
    if (link.kind !== "tun") {
      throw new VolantError(
        "conflict",
        `delete tap ${name}: it is a ${link.kind ?? "non-tap"} link`,
      );
    }
    try {
      deleteLink(nl, name);
    } catch (e) {
      if (!isErrno(e, "ENODEV")) throw e; // gone in between: fine
    }
  });
}

/** Removes `vtap<N>` TAPs not in `owned`, in one kernel transaction; returns their names. */
export function sweepTapsSync(owned: ReadonlySet<string>): string[] {
  return withSocket((nl) => {
    const stale = listLinks(nl)
      .filter((l) => l.kind === "tun" && isVolantTap(l.name) && !owned.has(l.name))
      .map((l) => l.name);
    return deleteLinks(nl, stale);
  });
}

/** The HostNetwork port for volantd (and `volar setup`). */
export function createHostNetwork(opts: HostNetworkOptions = {}): HostNetwork {
  const nft = opts.nft ?? "nft";
  // Per-VM policies (src/net/egress.ts), known once ensureNat has named the bridge.
  let policies: PolicyTables | undefined;
  return {
    ensureBridge: (o) => Promise.resolve().then(() => ensureBridgeSync(o)),
    async ensureNat(o) {
      const spec: NatSpec = { ...o, allow: opts.allowGuestServices };
      renderRuleset(spec); // validates every field before anything on the host changes
      await ensureIpForward(opts.ipForwardPath ?? IP_FORWARD_PATH);
      await ensureNftTable(spec, nft);
      if (!policies) {
        policies = new PolicyTables(o.bridge, nft);
        // Start from no policy: the service re-applies those of the VMs it adopts, so rules
        // left by a previous run never outlive their VM onto a new one with the same TAP/IP.
        await policies.reset();
      }
    },
    async applyVmPolicy(p) {
      if (!policies) {
        throw new VolantError("internal", "applyVmPolicy before ensureNat: no bridge known");
      }
      await policies.set(p.tap, p);
    },
    removeNat: () => removeNftTable(nft),
    ensureTap: (o) => Promise.resolve().then(() => ensureTapSync(o)),
    // A VM's policy lives as long as its TAP.
    deleteTap: (name) =>
      Promise.resolve().then(() => deleteTapSync(name)).then(() => policies?.set(name, null)),
    sweepTaps: (owned) => Promise.resolve().then(() => sweepTapsSync(owned)),
  };
}
