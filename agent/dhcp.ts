/**
 * DHCP for eth0 (`network.mode = "dhcp"`): busybox `udhcpc` from the agent
 * image speaks the protocol and renews the lease (it stays in the
 * foreground for the guest's life); its script only reports each lease, and
 * kestrel applies it with its own netlink requests: address, default route,
 * MTU, /etc/resolv.conf, the hostname and /etc/hosts. `start()` resolves at
 * the first lease (or fails after `timeoutMs`); renewals are applied as they come.
 *
 * @module
 */
import * as libc from "./_libc.ts";
import type { NetworkConfig } from "./boot_config.ts";
import type { ChildTracker } from "./child_tracker.ts";
import type { ConsoleSink } from "./console.ts";
import { type DhcpEvent, leaseNetwork, parseLeaseLine, udhcpcScript } from "./dhcp_lease.ts";
import { type BindMount, renderHosts, renderResolvConf, writeEtcFile } from "./etc_files.ts";
import { addAddressMessage, addDefaultRouteMessage, linkUpMessage } from "./netlink.ts";
import { NetlinkSocket } from "./netlink_socket.ts";
import type { NetworkStatus } from "./state.ts";
import { after } from "./timeout.ts";
import { VolantError } from "../src/errors.ts";

/** Where busybox is in the guest: the agent image's, then the root's. */
const BUSYBOX = ["/volant/agent/bin/busybox", "/bin/busybox"];

export interface DhcpOptions {
  interface: string;
  ifindex: number;
  /** Sent as option 12 and used when the lease names no host. */
  hostname?: string;
  /** DNS servers when the lease has none (the cmdline's). */
  fallbackDns: string[];
  etcDir: string;
  runDir: string;
  bind?: BindMount;
  setHostname: boolean;
  tracker?: ChildTracker;
  console?: ConsoleSink;
  /** First lease deadline (default 60 s: TCG guests on a loaded host are slow). */
  timeoutMs?: number;
  /** busybox path (default: the first of the agent image's and /bin's that exists). */
  busybox?: string;
}

function firstExisting(paths: string[]): string {
  for (const p of paths) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  throw new VolantError(
    "unavailable",
    `DHCP: no busybox for udhcpc (looked in ${paths.join(", ")})`,
  );
}

export class DhcpClient {
  readonly status: NetworkStatus;
  /** Leases applied (the first one included). */
  leases = 0;
  #child: Deno.ChildProcess | undefined;
  #applied: NetworkConfig | undefined;
  readonly #o: DhcpOptions;

  constructor(o: DhcpOptions) {
    this.#o = o;
    this.status = { interface: o.interface, dns: [], hostname: o.hostname, dhcp: { leases: 0 } };
  }

  /** Spawns udhcpc; resolves with the status once the first lease is applied. */
  async start(): Promise<NetworkStatus> {
    const o = this.#o;
    const busybox = o.busybox ?? firstExisting(BUSYBOX);
    // udhcpc's raw socket needs the link up (busybox's default script would do this on deconfig).
    const nl = new NetlinkSocket();
    try {
      const seq = nl.nextSeq();
      nl.request(linkUpMessage(seq, o.ifindex), seq, `set ${o.interface} up`);
    } finally {
      nl.close();
    }
    await Deno.mkdir(o.runDir, { recursive: true });
    const script = `${o.runDir}/udhcpc.script`;
    await Deno.writeTextFile(script, udhcpcScript(busybox), { mode: 0o755 });
    const args = [
      "udhcpc",
      "-f",
      "-i",
      o.interface,
      "-s",
      script,
      "-t",
      "20",
      "-T",
      "2",
      "-A",
      "3",
    ];
    args.push("-O", "mtu");
    if (o.hostname) args.push("-x", `hostname:${o.hostname}`);
    this.#child = new Deno.Command(busybox, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    })
      .spawn();
    o.tracker?.add(this.#child.pid);
    const child = this.#child;
    void child.status.then(() => o.tracker?.delete(child.pid));
    const first = Promise.withResolvers<NetworkStatus>();
    void this.#pumpErrors(child.stderr);
    void this.#readLeases(child.stdout, first.resolve, first.reject);
    let cancel = () => {};
    const timeoutMs = o.timeoutMs ?? 60_000;
    const timeout = new Promise<never>((_, reject) => {
      cancel = after(
        timeoutMs,
        () =>
          reject(
            new VolantError("unavailable", `DHCP: no lease on ${o.interface} in ${timeoutMs} ms`),
          ),
      );
    });
    try {
      return await Promise.race([first.promise, timeout]);
    } finally {
      cancel();
    }
  }

  /** Ends udhcpc (at shutdown). */
  stop(): void {
    try {
      this.#child?.kill("SIGTERM");
    } catch (e) {
      if (!(e instanceof TypeError)) throw e; // already exited
    }
  }

  async #pumpErrors(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      for (const line of chunk.split("\n")) if (line.trim()) this.#o.console?.line(line.trim());
    }
  }

  async #readLeases(
    stream: ReadableStream<Uint8Array>,
    resolve: (s: NetworkStatus) => void,
    reject: (e: unknown) => void,
  ): Promise<void> {
    let buf = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const e = parseLeaseLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (!e || (e.event !== "bound" && e.event !== "renew")) continue;
        try {
          this.#apply(e);
          resolve(this.status);
        } catch (error) {
          reject(error);
        }
      }
    }
    reject(new VolantError("unavailable", "DHCP: udhcpc exited before a lease"));
  }

  #apply(e: DhcpEvent): void {
    const o = this.#o;
    const net = leaseNetwork(e);
    const nl = new NetlinkSocket();
    try {
      let seq = nl.nextSeq();
      nl.request(linkUpMessage(seq, o.ifindex, net.mtu), seq, `set ${o.interface} up`);
      if (this.#applied?.address !== net.address || this.#applied?.prefix !== net.prefix) {
        seq = nl.nextSeq();
        nl.request(
          addAddressMessage(seq, o.ifindex, net.address, net.prefix, net.broadcast),
          seq,
          `add leased address ${net.address}/${net.prefix}`,
          [libc.Errno.EEXIST],
        );
      }
      if (net.gateway) {
        seq = nl.nextSeq();
        nl.request(
          addDefaultRouteMessage(seq, net.gateway, o.ifindex),
          seq,
          `add default route via ${net.gateway}`,
          [libc.Errno.EEXIST],
        );
      }
    } finally {
      nl.close();
    }
    this.#applied = net;
    const hostname = e.hostname ?? o.hostname;
    if (hostname && o.setHostname) libc.sethostname(hostname);
    const dns = e.dns.length > 0 ? e.dns : o.fallbackDns;
    const written = [
      writeEtcFile(`${o.etcDir}/hosts`, renderHosts(hostname, net), o.runDir, o.bind),
    ];
    if (dns.length > 0) {
      written.push(
        writeEtcFile(`${o.etcDir}/resolv.conf`, renderResolvConf(dns), o.runDir, o.bind),
      );
    }
    this.leases++;
    Object.assign(this.status, {
      address: net.address,
      prefix: net.prefix,
      gateway: net.gateway,
      mtu: net.mtu,
      dns,
      hostname,
      etc: written.map((r) => `${r.path}:${r.how}`).join(","),
      dhcp: {
        leases: this.leases,
        lease_s: e.lease,
        server: e.server,
        at: new Date().toISOString(),
      },
    });
    o.console?.line(
      `dhcp ${e.event}: ${net.address}/${net.prefix}` +
        (net.gateway ? ` via ${net.gateway}` : "") + ` lease ${e.lease ?? "?"}s` +
        (hostname ? `, hostname ${hostname}` : ""),
    );
  }
}
