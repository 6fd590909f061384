/**
 * The bridge's fixed MAC. A bridge without one shows 00:00:00:00:00:00 while
 * it has no ports and then takes a port's MAC, changing as ports come and go
 * (and breaking guests' ARP caches); deriving it from the name keeps it stable
 * across restarts and hosts.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { macString } from "../shared/rtnetlink.ts";

/** `02:` (locally administered, unicast) + 5 bytes of sha256("volant-bridge|<name>"). */
export function bridgeMac(name: string): string {
  const digest = createHash("sha256").update(`volant-bridge|${name}`).digest();
  return macString(new Uint8Array([0x02, ...digest.subarray(0, 5)]));
}
