/**
 * kestrel's end of the agent channel (docs/kestrel.md "Agent channel"): the
 * virtio-serial port only the host can write to, carrying many streams
 * (src/shared/mux.ts). Every stream the host opens is relayed, byte for
 * byte, to kestrel's own HTTP API on 127.0.0.1, so every route (health,
 * status, logs, the workload proxy, exec, files, WebSocket upgrades) works
 * over it unchanged, and requests still pass the agent gate: the workload can
 * reach 127.0.0.1:8080 too, so loopback is not proof of being the host.
 *
 * The host's hello carries the VM's agent key: kestrel takes it as the key to
 * check (so a guest booted without `volant.agent_key` gets its key here) and
 * answers with a hello of the same nonce. A hello with a new nonce resets all
 * streams (a restarted daemon); a repeat of the current one does not.
 *
 * Cloud Hypervisor offers vsock instead: kestrel listens on vsock port 1024
 * ({@linkcode startVsockChannel}); each connection the host makes (through
 * CH's hybrid-vsock socket) is one session, ended when it closes.
 *
 * The port reads 0 bytes while no host end is connected (the daemon not
 * there yet, or restarting): kestrel then drops its streams, waits for the
 * next hello, and polls the port with a short backoff.
 *
 * @module
 */
import * as libc from "./_libc.ts";
import type { AgentPort } from "./channel_port.ts";
import { MuxSession, type MuxStream } from "../src/shared/mux.ts";
import { MuxProtocolError } from "../src/shared/mux_codec.ts";
import { AGENT_VSOCK_PORT } from "../src/manifest/cmdline.ts";
import { sleep } from "./timeout.ts";

export interface ChannelOptions {
  /** kestrel's API port on 127.0.0.1. */
  apiPort: number;
  /** The key from the host's hello. */
  setKey(key: string): void;
  say(line: string): void;
}

/** Opens `port` (making its node if devtmpfs did not) and serves the channel until kestrel exits. */
export function startAgentChannel(port: AgentPort, o: ChannelOptions): void {
  try {
    Deno.statSync(port.path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    libc.mknod(port.path, libc.S_IFCHR | 0o600, port.major, port.minor);
  }
  const fd = libc.open(port.path, libc.O_RDWR | libc.O_CLOEXEC);
  serveFd(fd, o).catch((e) => o.say(`channel: stopped: ${(e as Error).message}`));
}

/** The channel over an open fd (a virtio-serial port or an accepted vsock connection). */
export async function serveFd(fd: number, o: ChannelOptions, once = false): Promise<void> {
  let nonce: string | null = null;
  const session: MuxSession = new MuxSession({
    role: "guest",
    write: (b) => libc.writeAllAsync(fd, b as Uint8Array<ArrayBuffer>),
    onOpen: (s) => void relay(s, o.apiPort),
    onHello: (h) => {
      if (h.key) o.setKey(h.key);
      const fresh = h.nonce !== nonce;
      if (fresh && nonce !== null) o.say("channel: the host restarted the channel");
      nonce = h.nonce;
      session.hello({ nonce: h.nonce }).catch((e) => o.say(`channel: ${(e as Error).message}`));
      return fresh;
    },
  });
  const buf = new Uint8Array(256 * 1024);
  let idle = 0;
  while (true) {
    const n = await libc.readAsync(fd, buf);
    if (n === 0) {
      if (once) break;
      // No host end connected: the streams are gone; the next host starts with a hello.
      if (nonce !== null) {
        session.resync("the host disconnected");
        nonce = null;
      }
      await sleep(Math.min(50 * 2 ** idle++, 1000));
      continue;
    }
    idle = 0;
    // A virtio-serial read returns one 4 KiB buffer: take what else is queued now, on this
    // thread (a thread hop per buffer capped host -> guest copies near 1 MiB/s under TCG).
    const end = libc.readReady(fd, buf, n);
    try {
      session.feed(buf.slice(0, end));
    } catch (e) {
      if (!(e instanceof MuxProtocolError)) throw e;
      o.say(`channel: ${e.message}; waiting for the next hello`);
      session.resync("protocol error");
      nonce = null;
    }
  }
  session.close();
}

const AF_VSOCK = 40;
const SOCK_STREAM = 1;
const VMADDR_CID_ANY = 0xffff_ffff;

/** struct sockaddr_vm for `port` on any cid (little-endian, as x86_64). */
export function vsockAddr(port: number): Uint8Array<ArrayBuffer> {
  const a = new Uint8Array(16);
  const v = new DataView(a.buffer);
  v.setUint16(0, AF_VSOCK, true);
  v.setUint32(4, port, true);
  v.setUint32(8, VMADDR_CID_ANY, true);
  return a;
}

/** Listens on vsock port 1024 and serves the channel on every host connection. */
export function startVsockChannel(o: ChannelOptions): void {
  const what = `vsock port ${AGENT_VSOCK_PORT}`;
  const fd = libc.socket(AF_VSOCK, SOCK_STREAM | libc.O_CLOEXEC, 0, what);
  libc.bind(fd, vsockAddr(AGENT_VSOCK_PORT), what);
  libc.listen(fd, 4, what);
  (async () => {
    while (true) {
      const conn = await libc.acceptAsync(fd, what);
      serveFd(conn, o, true)
        .catch((e) => o.say(`channel: ${(e as Error).message}`))
        .finally(() => libc.close(conn));
    }
  })().catch((e) => o.say(`channel: stopped: ${(e as Error).message}`));
}

/** One stream <-> one TCP connection to kestrel's API. */
async function relay(s: MuxStream, apiPort: number): Promise<void> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port: apiPort });
  } catch (e) {
    if (!(e instanceof Error)) throw e;
    s.reset();
    return;
  }
  const up = s.readable.pipeTo(conn.writable, { preventClose: true }).then(() => conn.closeWrite());
  const down = conn.readable.pipeTo(s.writable);
  const [a, b] = await Promise.allSettled([up, down]);
  if (a.status === "rejected" || b.status === "rejected") s.reset();
  try {
    conn.close();
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
  }
}
