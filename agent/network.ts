/**
 * Brings up the guest network from the cmdline, through kestrel's own
 * rtnetlink requests: lo up; eth0 MTU + up, its address, the default route;
 * the hostname; /etc/resolv.conf and /etc/hosts. Each request is checked
 * through its ACK and fails with the operation named. Waiting for eth0 to
 * appear is bounded.
 *
 * @module
 */
import * as libc from "./_libc.ts";
import type { BootConfig } from "./boot_config.ts";
import { addAddressMessage, addDefaultRouteMessage, linkUpMessage } from "./netlink.ts";
import { NetlinkSocket } from "./netlink_socket.ts";
import type { NetworkStatus } from "./state.ts";
import { type BindMount, renderHosts, renderResolvConf, writeEtcFile } from "./etc_files.ts";
import { VolantError } from "../src/errors.ts";
import type { ChildTracker } from "./child_tracker.ts";
import type { ConsoleSink } from "./console.ts";
import { DhcpClient } from "./dhcp.ts";
import { sleep } from "./timeout.ts";

export interface NetworkOptions {
  /** The guest interface (eth0). */
  interface?: string;
  /** Where resolv.conf and hosts go. */
  etcDir?: string;
  /** Fallback directory for bind-mounted files when etcDir is read-only. */
  runDir?: string;
  bind?: BindMount;
  /** Whether to call sethostname (false when the caller shares the host's UTS namespace). */
  setHostname?: boolean;
  /** How long to wait for the interface to appear. */
  waitMs?: number;
  /** DHCP mode: udhcpc is a child Deno waits on (the reaper must leave it alone). */
  tracker?: ChildTracker;
  /** DHCP mode: where udhcpc's messages and each lease go. */
  console?: ConsoleSink;
}

async function waitForInterface(name: string, waitMs: number): Promise<number> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    const index = libc.ifNameToIndex(name);
    if (index > 0) return index;
    if (performance.now() >= deadline) {
      throw new VolantError(
        "unavailable",
        `network: interface ${name} did not appear in ${waitMs} ms`,
      );
    }
    await sleep(10);
  }
}

/** Configures lo, eth0, hostname and the /etc files; returns what was set up. */
export async function configureNetwork(
  boot: BootConfig,
  opts: NetworkOptions = {},
): Promise<NetworkStatus> {
  const ifname = opts.interface ?? "eth0";
  const etc = opts.etcDir ?? "/etc";
  const status: NetworkStatus = { interface: ifname, dns: boot.dns, hostname: boot.hostname };
  const nl = new NetlinkSocket();
  try {
    let seq = nl.nextSeq();
    nl.request(linkUpMessage(seq, libc.ifNameToIndex("lo") || 1), seq, "set lo up");
    if (boot.dhcp) {
      // The lease decides address, route, DNS and hostname; renewals keep going (dhcp.ts).
      const ifindex = await waitForInterface(ifname, opts.waitMs ?? 5_000);
      return await new DhcpClient({
        interface: ifname,
        ifindex,
        hostname: boot.hostname,
        fallbackDns: boot.dns,
        etcDir: etc,
        runDir: opts.runDir ?? "/run/kestrel/etc",
        bind: opts.bind,
        setHostname: opts.setHostname !== false,
        tracker: opts.tracker,
        console: opts.console,
      }).start();
    }
    const net = boot.network;
    if (net) {
      const index = await waitForInterface(ifname, opts.waitMs ?? 5_000);
      seq = nl.nextSeq();
      nl.request(
        linkUpMessage(seq, index, net.mtu),
        seq,
        `set ${ifname} up (mtu ${net.mtu ?? "-"})`,
      );
      seq = nl.nextSeq();
      nl.request(
        addAddressMessage(seq, index, net.address, net.prefix, net.broadcast),
        seq,
        `add address ${net.address}/${net.prefix} to ${ifname}`,
        [libc.Errno.EEXIST],
      );
      if (net.gateway) {
        seq = nl.nextSeq();
        nl.request(
          addDefaultRouteMessage(seq, net.gateway, index),
          seq,
          `add default route via ${net.gateway}`,
          [libc.Errno.EEXIST],
        );
      }
      Object.assign(status, {
        address: net.address,
        prefix: net.prefix,
        gateway: net.gateway,
        mtu: net.mtu,
      });
    }
  } finally {
    nl.close();
  }
  if (boot.hostname && opts.setHostname !== false) libc.sethostname(boot.hostname);
  const runDir = opts.runDir ?? "/run/kestrel/etc";
  const results = [
    writeEtcFile(`${etc}/hosts`, renderHosts(boot.hostname, boot.network), runDir, opts.bind),
  ];
  if (boot.dns.length > 0) {
    results.push(writeEtcFile(`${etc}/resolv.conf`, renderResolvConf(boot.dns), runDir, opts.bind));
  }
  status.etc = results.map((r) => `${r.path}:${r.how}${r.how === "skipped" ? `(${r.reason})` : ""}`)
    .join(",");
  return status;
}
