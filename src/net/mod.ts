/**
 * Host networking for volantd and `volar setup`: the only module that touches
 * host links, addresses, TAPs and the firewall. Bridge, TAP and addresses go
 * through rtnetlink and /dev/net/tun via FFI (src/net/_libc.ts); nftables
 * through `nft -f -`. Never execs `ip`, `brctl` or `tunctl`.
 *
 * @module
 */
export { createHostNetwork, type HostNetworkOptions } from "./host_network.ts";
export { deleteTapSync, ensureBridgeSync, ensureTapSync, sweepTapsSync } from "./host_network.ts";
export { isVolantTap, MAX_IFNAME_BYTES, TAP_PREFIX, tapName, validateIfName } from "./names.ts";
export { errnoName, isErrno, NetError } from "./errno.ts";
export { NetlinkSocket } from "./netlink_socket.ts";
export {
  createBridge,
  deleteLink,
  deleteLinks,
  getLink,
  type LinkView,
  listLinks,
  requireLink,
  setLink,
  setMaster,
  setMtu,
  setUp,
} from "./links.ts";
export {
  addAddress,
  type AddressView,
  type Cidr,
  deleteAddress,
  listAddresses,
  networkOf,
  parseCidr,
} from "./addresses.ts";
export { bridgeMac } from "./bridge.ts";
export { createTap, type TapOptions } from "./tap.ts";
export {
  currentMarks,
  ensureIpForward,
  ensureNftTable,
  IP_FORWARD_PATH,
  type NatSpec,
  NFT_TABLE,
  removeNftTable,
  renderRuleset,
  ruleCount,
  rulesetDigest,
} from "./nat.ts";
export type { Link, LinkChange } from "../shared/rtnetlink.ts";
