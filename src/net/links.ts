/**
 * Links over rtnetlink: list (kind, state, master), look up, create a bridge,
 * delete (one or many at once), and change up/down, MTU, MAC and master in one
 * RTM_SETLINK.
 *
 * @module
 */
import { isErrno } from "./errno.ts";
import {
  decodeLink,
  delGroupRequest,
  delLinkRequest,
  getLinkRequest,
  type Link,
  type LinkChange,
  newBridgeRequest,
  RTM,
  setLinkRequest,
} from "../shared/rtnetlink.ts";
import type { NetlinkSocket } from "./netlink_socket.ts";
import { validateIfName } from "./names.ts";

/** A link with its master resolved to a name. */
export interface LinkView extends Link {
  master?: string;
}

/** All links of the current network namespace (one multi-part dump). */
export function listLinks(nl: NetlinkSocket): LinkView[] {
  const links = nl.dump((seq) => getLinkRequest(seq), "list", "links")
    .filter((m) => m.type === RTM.NEWLINK)
    .map(decodeLink);
  const byIndex = new Map(links.map((l) => [l.index, l.name]));
  return links.map((l) => (l.masterIndex ? { ...l, master: byIndex.get(l.masterIndex) } : l));
}

/** One link by name, or null if there is none (ENODEV). Master stays an index. */
export function getLink(nl: NetlinkSocket, name: string): Link | null {
  validateIfName(name);
  try {
    return decodeLink(nl.get((seq) => getLinkRequest(seq, name), "get link", name));
  } catch (e) {
    if (isErrno(e, "ENODEV")) return null;
    throw e;
  }
}

/** Like getLink but a missing link is an ENODEV NetError naming `op`. */
export function requireLink(nl: NetlinkSocket, name: string, op = "get link"): Link {
  validateIfName(name);
  return decodeLink(nl.get((seq) => getLinkRequest(seq, name), op, name));
}

/** Creates a bridge with a fixed MAC (EEXIST if the name is taken). Left down. */
export function createBridge(
  nl: NetlinkSocket,
  o: { name: string; mac: string; mtu?: number },
): void {
  validateIfName(o.name);
  nl.request((seq) => newBridgeRequest(seq, o), "create bridge", o.name);
}

/** Deletes any link by name (ENODEV if missing). */
export function deleteLink(nl: NetlinkSocket, name: string): void {
  validateIfName(name);
  nl.request((seq) => delLinkRequest(seq, name), "delete link", name);
}

/** Device groups deleteLinks may borrow ("vl" << 16 | n): far from the small numbers admins use. */
const SCRATCH_GROUP_BASE = 0x766c0000;

/**
 * Deletes several links in one kernel transaction and returns the names it
 * deleted (missing ones are skipped). Every unregister ends with an RCU wait of
 * ~15 ms that the kernel pays once per transaction, not once per link; so the
 * links are moved into a device group no link uses and the group is deleted in
 * one RTM_DELLINK. If the kernel refuses the group delete, each is deleted alone.
 */
export function deleteLinks(nl: NetlinkSocket, names: readonly string[]): string[] {
  for (const name of names) validateIfName(name);
  const wanted = [...new Set(names)];
  if (wanted.length === 0) return [];
  const links = listLinks(nl);
  const present = new Set(links.map((l) => l.name));
  const used = new Set(links.map((l) => l.group));
  let group = SCRATCH_GROUP_BASE;
  while (used.has(group)) group++;
  const marked: string[] = [];
  let failure: unknown;
  for (const name of wanted.filter((n) => present.has(n))) {
    try {
      setLink(nl, name, { group }, "mark for deletion");
      marked.push(name);
    } catch (e) {
      if (isErrno(e, "ENODEV")) continue; // gone in between
      failure = e;
      break;
    }
  }
  if (marked.length > 0) {
    try {
      nl.request((seq) => delGroupRequest(seq, group), "delete links of group", String(group));
    } catch (e) {
      if (!isErrno(e, "ENODEV")) {
        for (const name of marked) {
          try {
            deleteLink(nl, name);
          } catch (one) {
            if (!isErrno(one, "ENODEV")) throw one;
          }
        }
      }
    }
  }
  if (failure) throw failure;
  return marked;
}

/** Applies up/down, MTU, MAC, master (0 = none) and group in one request. */
export function setLink(
  nl: NetlinkSocket,
  name: string,
  change: LinkChange,
  op = "set link",
): void {
  validateIfName(name);
  nl.request((seq) => setLinkRequest(seq, name, change), op, name);
}

export function setUp(nl: NetlinkSocket, name: string, up: boolean): void {
  setLink(nl, name, { up }, up ? "set up" : "set down");
}

export function setMtu(nl: NetlinkSocket, name: string, mtu: number): void {
  setLink(nl, name, { mtu }, `set mtu ${mtu} on`);
}

/** Enslaves `name` to `master` (a bridge), or frees it when `master` is null. */
export function setMaster(nl: NetlinkSocket, name: string, master: string | null): void {
  if (master === null) {
    setLink(nl, name, { master: 0 }, "clear master of");
    return;
  }
  const m = requireLink(nl, master, "find master");
  setLink(nl, name, { master: m.index }, `set master ${master} on`);
}
