/**
 * The guest side of the clone identity hand-off (src/shared/identity_line.ts):
 * a restored clone still holds its template's address, MAC, hostname, RNG
 * state and agent key in memory. kestrel reads its console for one
 * `volant-identity` line and then, in this order: eth0 down, new MAC, the old
 * address out and the new one in, eth0 up, the default route; the hostname;
 * the RNG reseeded (RNDADDENTROPY with the 32 host bytes, then RNDRESEEDCRNG
 * so the next read already depends on them); the agent key replaced; and
 * answers `VOLANT_IDENTITY_OK <nonce>` on the console.
 *
 * The console is read in non-canonical mode without echo or signals: the
 * line is not echoed to the serial log (it carries the agent key), a stray
 * ^C/^S on the console cannot signal PID 1 or freeze its output, and a line
 * is taken as soon as its bytes arrive. Loaded only when kestrel is PID 1
 * without the debug shell (the shell owns the console then).
 *
 * @module
 */
import * as libc from "./_libc.ts";
import type { ConsoleSink } from "./console.ts";
import type { NetworkStatus } from "./state.ts";
import { NetlinkSocket } from "./netlink_socket.ts";
import { addDefaultRouteMessage, linkUpMessage } from "./netlink.ts";
import { delAddrRequest, newAddrRequest, setLinkRequest } from "../src/shared/rtnetlink.ts";
import {
  formatAck,
  type IdentityMessage,
  isIdentityLine,
  NonceGuard,
  parseIdentity,
} from "../src/shared/identity_line.ts";
import { renderHosts, writeEtcFile } from "./etc_files.ts";
import { broadcastNumber, formatIpv4, ipv4Number, networkNumber } from "../src/shared/ipv4.ts";

function ipv4Broadcast(address: string, prefix: number): string {
  return formatIpv4(broadcastNumber(ipv4Number(address)!, prefix));
}

/** What applying an identity changes in kestrel itself. */
export interface IdentityTarget {
  console: ConsoleSink;
  /** The network as configured now (the template's); updated in place. */
  network: () => NetworkStatus | null;
  setAgentKey: (key: string) => void;
  /** Applies `m` to the system (default: netlink, sethostname, /dev/urandom). */
  apply?: (m: IdentityMessage, before: NetworkStatus | null) => Promise<void> | void;
}

/** Splits console bytes into lines (\r or \n ends one); long garbage is cut at `max`. */
export class LineSplitter {
  #buf = "";
  readonly #decoder = new TextDecoder();
  constructor(readonly max = 1024) {}

  push(bytes: Uint8Array): string[] {
    this.#buf += this.#decoder.decode(bytes, { stream: true });
    const parts = this.#buf.split(/[\r\n]/);
    this.#buf = parts.pop()!;
    if (this.#buf.length > this.max) this.#buf = "";
    return parts.filter((l) => l.trim() !== "");
  }
}

/** Handles console lines: applies new hand-offs once, re-acks a resent one, refuses the rest. */
export class IdentityHandler {
  readonly guard = new NonceGuard();
  readonly #t: IdentityTarget;
  #busy: Promise<void> = Promise.resolve();

  constructor(target: IdentityTarget) {
    this.#t = target;
  }

  /** One console line; lines that are no hand-off are ignored (someone typing). */
  line(text: string): Promise<void> {
    // One at a time: a resend arriving while the first is applied must see it recorded.
    this.#busy = this.#busy.then(() => this.#line(text));
    return this.#busy;
  }

  async #line(text: string): Promise<void> {
    if (!isIdentityLine(text)) return;
    const say = (s: string) => this.#t.console.line(`identity: ${s}`);
    let m: IdentityMessage;
    try {
      m = parseIdentity(text);
    } catch (e) {
      say(`refused: ${(e as Error).message}`);
      return;
    }
    const verdict = this.guard.check(m.nonce);
    if (verdict === "replay") {
      say(`refused: nonce ${m.nonce} was used before (replay)`);
      return;
    }
    if (verdict === "apply") {
      try {
        const before = this.#t.network();
        await (this.#t.apply ?? applyToSystem)(m, before);
        if (m.agentKey !== undefined) this.#t.setAgentKey(m.agentKey);
        const net = this.#t.network();
        if (net) {
          Object.assign(net, {
            address: m.address,
            prefix: m.prefix,
            gateway: m.gateway,
            hostname: m.hostname,
          });
        }
      } catch (e) {
        say(`failed: ${(e as Error).message}`);
        return;
      }
      this.guard.applied(m.nonce);
    }
    say(`${formatAck(m.nonce)} eth0 ${m.address}/${m.prefix} ${m.mac}, hostname ${m.hostname}`);
  }
}

const RNDADDENTROPY = 0x40085203;
const RNDRESEEDCRNG = 0x5207;

/** Mixes `seed` into the kernel RNG, credited, and forces a reseed of its output generator. */
export function reseedRng(seed: Uint8Array): void {
  const fd = libc.open("/dev/urandom", libc.O_RDWR | libc.O_CLOEXEC);
  try {
    // struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
    const info = new Uint8Array(8 + seed.length);
    const dv = new DataView(info.buffer);
    dv.setInt32(0, seed.length * 8, true);
    dv.setInt32(4, seed.length, true);
    info.set(seed, 8);
    libc.ioctl(fd, RNDADDENTROPY, info, "/dev/urandom (RNDADDENTROPY)");
    libc.ioctl(fd, RNDRESEEDCRNG, null, "/dev/urandom (RNDRESEEDCRNG)");
  } finally {
    libc.close(fd);
  }
}

/** The real thing: eth0 via rtnetlink, hostname, /etc/hosts, RNG. */
export function applyToSystem(m: IdentityMessage, before: NetworkStatus | null): void {
  const ifname = before?.interface ?? "eth0";
  const index = libc.ifNameToIndex(ifname);
  if (index <= 0) throw new Error(`no interface ${ifname}`);
  const nl = new NetlinkSocket();
  try {
    const req = (build: (seq: number) => Uint8Array, what: string, allow: number[] = []) => {
      const seq = nl.nextSeq();
      nl.request(build(seq), seq, what, allow);
    };
    // Some NICs refuse a MAC change while up: down, change, up.
    req((s) => setLinkRequest(s, ifname, { up: false }), `set ${ifname} down`);
    req((s) => setLinkRequest(s, ifname, { mac: m.mac }), `set ${ifname} address ${m.mac}`);
    if (before?.address && before.prefix !== undefined && before.address !== m.address) {
      req(
        (s) => delAddrRequest(s, { index, address: before.address!, prefixlen: before.prefix! }),
        `remove ${before.address}/${before.prefix}`,
        [99 /* EADDRNOTAVAIL */],
      );
    }
    req(
      (s) =>
        newAddrRequest(s, {
          index,
          address: m.address,
          prefixlen: m.prefix,
          broadcast: m.prefix < 31 ? ipv4Broadcast(m.address, m.prefix) : undefined,
        }),
      `add ${m.address}/${m.prefix}`,
      [libc.Errno.EEXIST],
    );
    req((s) => linkUpMessage(s, index, before?.mtu), `set ${ifname} up`);
    req(
      (s) => addDefaultRouteMessage(s, m.gateway, index),
      `default route via ${m.gateway}`,
      [libc.Errno.EEXIST],
    );
  } finally {
    nl.close();
  }
  libc.sethostname(m.hostname);
  writeEtcFile(
    "/etc/hosts",
    renderHosts(m.hostname, {
      address: m.address,
      prefix: m.prefix,
      gateway: m.gateway,
      network: formatIpv4(networkNumber(ipv4Number(m.address)!, m.prefix)),
      broadcast: ipv4Broadcast(m.address, m.prefix),
    }),
    "/run/kestrel/etc",
  );
  reseedRng(m.seed);
}

// termios (kernel struct, asm-generic): iflag, oflag, cflag, lflag (u32 each), line, cc[19].
const TCGETS = 0x5401;
const TCSETS = 0x5402;
const IXON = 0x400;
const ISIG = 0x1;
const ICANON = 0x2;
const ECHO_BITS = 0x8 | 0x10 | 0x20 | 0x40; // ECHO ECHOE ECHOK ECHONL
const IEXTEN = 0x8000;
const VTIME = 5;
const VMIN = 6;

/** Non-canonical, no echo, no signals, no XON/XOFF; output processing (OPOST) untouched. */
function rawInput(fd: number): void {
  const t = new Uint8Array(36);
  libc.ioctl(fd, TCGETS, t, "console (TCGETS)");
  const dv = new DataView(t.buffer);
  dv.setUint32(0, dv.getUint32(0, true) & ~IXON, true);
  dv.setUint32(12, dv.getUint32(12, true) & ~(ISIG | ICANON | ECHO_BITS | IEXTEN), true);
  t[17 + VTIME] = 0;
  t[17 + VMIN] = 1;
  libc.ioctl(fd, TCSETS, t, "console (TCSETS)");
}

/** Reads the console forever, handing each line to `handler`. Never throws. */
export async function listenOnConsole(
  handler: IdentityHandler,
  console: ConsoleSink,
  device = "/dev/console",
): Promise<void> {
  let fd: number;
  try {
    // NOCTTY: PID 1 must not take the console as its controlling terminal.
    fd = libc.open(device, libc.O_RDWR | libc.O_NOCTTY | libc.O_CLOEXEC);
    rawInput(fd);
  } catch (e) {
    console.line(`identity: no console input (${(e as Error).message}): clones cannot be warmed`);
    return;
  }
  const lines = new LineSplitter();
  const buf = new Uint8Array(512);
  let failures = 0;
  for (;;) {
    const n = await libc.readAsync(fd, buf).catch((e) => {
      if (e instanceof libc.SyscallError) return -1; // counted below like end of input
      throw e;
    });
    if (n <= 0) {
      // EIO/hang-up: a console with no input left; stop after a few tries, never spin.
      if (++failures >= 5) {
        console.line("identity: console input closed: no more hand-offs");
        return;
      }
      await new Promise((r) => setTimeout(r, 200 * failures));
      continue;
    }
    failures = 0;
    for (const line of lines.push(buf.subarray(0, n))) await handler.line(line);
  }
}
