/**
 * Everything kestrel reads from /proc/cmdline, validated: boot mode, disks,
 * debug shell, and the network configuration derived from `volant.ip`,
 * `volant.gw`, `volant.mtu`, `volant.dns` and `volant.hostname`. Pure, so it is
 * unit-tested on the host. A bad value throws `invalid_input` naming the key.
 *
 * @module
 */
import { CMDLINE_KEYS, parseCmdline } from "../src/manifest/cmdline.ts";
import { VolantError } from "../src/errors.ts";
import {
  broadcastNumber,
  formatIpv4,
  ipv4Number,
  networkNumber,
  prefixMask,
} from "../src/shared/ipv4.ts";
import type { PluginManifest } from "../src/manifest/plugin.ts";

export type BootMode = "auto" | "initramfs" | "rootfs";

/** eth0's IPv4 configuration, derived from the cmdline. */
export interface NetworkConfig {
  address: string;
  prefix: number;
  /** Network address (address & mask), for /etc/hosts and status. */
  network: string;
  broadcast: string;
  gateway?: string;
  mtu?: number;
}

export interface BootConfig {
  /** The raw `volant.manifest` value, undefined when absent. */
  manifestValue?: string;
  plugin?: string;
  boot: BootMode;
  rootfsDevice: string;
  rootfsFstype: string;
  agentDevice: string;
  debugShell: boolean;
  /** Null when the cmdline carries no `volant.ip` (only lo is brought up). */
  network: NetworkConfig | null;
  /** `volant.network=dhcp`: eth0 is configured from a DHCP lease instead. */
  dhcp: boolean;
  dns: string[];
  hostname?: string;
  /** `volant.agent_key`: the secret agent requests must carry (absent: the API is open). */
  agentKey?: string;
  /** The daemon hands the key over the agent channel (`volant.agent_channel=1`). */
  agentChannel?: boolean;
}

function bad(key: string, message: string): VolantError {
  return new VolantError("invalid_input", `${key}: ${message}`, {
    problems: [{ field: key, message }],
  });
}

function ipv4(key: string, text: string): number {
  const n = ipv4Number(text);
  if (n === null) throw bad(key, `"${text}" is not an IPv4 address`);
  return n;
}

const fromU32 = formatIpv4;

const DEVICE = /^[a-z][a-z0-9]{1,15}$/;
const HOSTNAME = /^(?=.{1,63}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i;

/** Derives eth0's configuration from `volant.ip`, `volant.gw` and `volant.mtu`. */
export function deriveNetwork(ip: string, gw?: string, mtu?: string): NetworkConfig {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(ip);
  if (!m) throw bad(CMDLINE_KEYS.ip, `"${ip}" must be address/prefix, e.g. 192.168.127.10/24`);
  const addr = ipv4(CMDLINE_KEYS.ip, m[1]);
  const prefix = Number(m[2]);
  if (prefix < 1 || prefix > 32) throw bad(CMDLINE_KEYS.ip, `prefix /${prefix} is out of 1..32`);
  const mask = prefixMask(prefix);
  const network = networkNumber(addr, prefix);
  const broadcast = broadcastNumber(addr, prefix);
  if (prefix < 31 && (addr === network || addr === broadcast)) {
    throw bad(CMDLINE_KEYS.ip, `${m[1]} is the network or broadcast address of /${prefix}`);
  }
  const out: NetworkConfig = {
    address: fromU32(addr),
    prefix,
    network: fromU32(network),
    broadcast: fromU32(broadcast),
  };
  if (gw !== undefined && gw !== "") {
    const g = ipv4(CMDLINE_KEYS.gateway, gw);
    if (((g & mask) >>> 0) !== network) {
      throw bad(CMDLINE_KEYS.gateway, `${gw} is not inside ${out.network}/${prefix}`);
    }
    if (g === addr) throw bad(CMDLINE_KEYS.gateway, `${gw} is the guest's own address`);
    out.gateway = fromU32(g);
  }
  if (mtu !== undefined && mtu !== "") {
    const n = Number(mtu);
    if (!/^\d+$/.test(mtu) || n < 68 || n > 65535) {
      throw bad(CMDLINE_KEYS.mtu, `"${mtu}" must be an integer in 68..65535`);
    }
    out.mtu = n;
  }
  return out;
}

/** Parses a whole kernel command line into a {@linkcode BootConfig}. */
export function parseBootConfig(cmdline: string): BootConfig {
  const args = parseCmdline(cmdline);
  const get = (key: string) => {
    const v = args.get(key);
    return v === undefined || v === "" ? undefined : v;
  };
  const boot = get(CMDLINE_KEYS.boot) ?? "auto";
  if (boot !== "auto" && boot !== "initramfs" && boot !== "rootfs") {
    throw bad(CMDLINE_KEYS.boot, `"${boot}" must be auto, initramfs or rootfs`);
  }
  const device = (key: string, fallback: string) => {
    const v = get(key) ?? fallback;
    if (!DEVICE.test(v)) throw bad(key, `"${v}" is not a device name such as vdb`);
    return v;
  };
  const fstype = get(CMDLINE_KEYS.rootfsFstype) ?? "ext4";
  if (!/^[a-z0-9]+$/.test(fstype)) {
    throw bad(CMDLINE_KEYS.rootfsFstype, `"${fstype}" is not a filesystem type`);
  }
  const shell = get(CMDLINE_KEYS.debugShell) ?? "0";
  if (shell !== "0" && shell !== "1") {
    throw bad(CMDLINE_KEYS.debugShell, `"${shell}" must be 0 or 1`);
  }
  const ip = get(CMDLINE_KEYS.ip);
  const network = ip === undefined
    ? null
    : deriveNetwork(ip, get(CMDLINE_KEYS.gateway), get(CMDLINE_KEYS.mtu));
  if (ip === undefined && get(CMDLINE_KEYS.gateway) !== undefined) {
    throw bad(CMDLINE_KEYS.gateway, `needs ${CMDLINE_KEYS.ip}`);
  }
  const mode = get(CMDLINE_KEYS.network);
  if (mode !== undefined && mode !== "dhcp") {
    throw bad(CMDLINE_KEYS.network, `"${mode}" must be dhcp`);
  }
  if (mode === "dhcp" && ip !== undefined) {
    throw bad(CMDLINE_KEYS.network, `dhcp and ${CMDLINE_KEYS.ip} exclude each other`);
  }
  const dns = (get(CMDLINE_KEYS.dns) ?? "").split(",").filter((s) => s.length > 0);
  for (const server of dns) ipv4(CMDLINE_KEYS.dns, server);
  const hostname = get(CMDLINE_KEYS.hostname);
  if (hostname !== undefined && !HOSTNAME.test(hostname)) {
    throw bad(CMDLINE_KEYS.hostname, `"${hostname}" is not a DNS label`);
  }
  const agentKey = get(CMDLINE_KEYS.agentKey);
  if (agentKey !== undefined && !/^[A-Za-z0-9_-]{16,128}$/.test(agentKey)) {
    throw bad(CMDLINE_KEYS.agentKey, "must be 16..128 base64url characters");
  }
  const agentChannel = get(CMDLINE_KEYS.agentChannel);
  if (agentChannel !== undefined && agentChannel !== "1") {
    throw bad(CMDLINE_KEYS.agentChannel, "must be 1");
  }
  return {
    manifestValue: args.get(CMDLINE_KEYS.manifest),
    plugin: get(CMDLINE_KEYS.plugin),
    boot,
    rootfsDevice: device(CMDLINE_KEYS.rootfsDevice, "vdb"),
    rootfsFstype: fstype,
    agentDevice: device(CMDLINE_KEYS.agentDevice, "vda"),
    debugShell: shell === "1",
    network,
    dhcp: mode === "dhcp",
    dns,
    hostname,
    agentKey,
    agentChannel: agentChannel === "1",
  };
}

/**
 * Whether to switch root: `volant.boot=rootfs`, or `auto` with a manifest that
 * has a rootfs. Never "because a disk exists": an initramfs plugin with an
 * extra disk (also vdb) must not boot from it (a Volant bug).
 */
export function wantsRootfs(boot: BootConfig, manifest: PluginManifest): boolean {
  if (boot.boot === "rootfs") return true;
  if (boot.boot === "initramfs") return false;
  return manifest.rootfs !== undefined;
}
