/**
 * The daemon's end of the agent channel (docs/kestrel.md "Agent channel"):
 * one connection per VM to the VMM's channel socket (QEMU listens on
 * `<runtime>/agent.sock`), a mux session over it (src/shared/mux.ts), and a
 * local HTTP socket `<runtime>/agent-http-<id>.sock` (one per link) whose every connection
 * becomes one stream; kestrel relays each stream to its API. So the
 * GuestClient keeps speaking plain HTTP, through `Deno.createHttpClient`
 * with a unix-socket proxy.
 *
 * Cloud Hypervisor has no virtio-serial: there the same mux runs over vsock
 * (its hybrid-vsock socket `<runtime>/vsock.sock`, `CONNECT 1024`, see
 * hybrid_vsock.ts), kestrel listening on vsock port 1024. The link takes
 * whichever socket the VMM made: `agent.sock` first, else `vsock.sock`.
 *
 * The link dials lazily (first request) and again after the socket closed
 * (the VM stopped, the VMM restarted it): each dial sends a hello with a fresh
 * nonce and the VM's agent key and waits for kestrel's hello with the same
 * nonce; kestrel resets whatever streams a previous daemon left.
 *
 * @module
 */
import { AGENT_VSOCK_PORT } from "../manifest/cmdline.ts";
import { MuxSession, type MuxStream } from "../shared/mux.ts";
import { connectHybridVsock } from "./hybrid_vsock.ts";
import { MuxProtocolError } from "../shared/mux_codec.ts";
import { existsSync } from "../shared/fs.ts";
import { RUNTIME_FILES } from "../vmm/runtime_dir.ts";

/**
 * A link's local HTTP socket beside the channel socket, named per link: a
 * closed listener's path must never be the next link's (a VM deleted and made
 * again under its name gets a new link in its new runtime dir).
 */
function linkHttpSocket(channel: string): string {
  return `${dirOf(channel)}/agent-http-${crypto.randomUUID().slice(0, 8)}.sock`;
}

/** Cloud Hypervisor's hybrid-vsock socket beside the channel socket (RUNTIME_FILES.vsock). */
export function hybridVsockSocket(channel: string): string {
  return `${dirOf(channel)}/vsock.sock`;
}

/** The marker saying kestrel once answered on `channel` (RUNTIME_FILES.channelSpoken). */
function spokenMarker(channel: string): string {
  return `${dirOf(channel)}/${RUNTIME_FILES.channelSpoken}`;
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

/** How a link reaches the guest: the virtio-serial chardev, or a vsock stream via CH. */
type Dial = () => Promise<Deno.UnixConn>;

/** The dialer for `channel`, or null when the VMM made neither socket. */
function dialerFor(channel: string): Dial | null {
  if (existsSync(channel)) return () => Deno.connect({ transport: "unix", path: channel });
  const vsock = hybridVsockSocket(channel);
  if (existsSync(vsock)) {
    return async () => (await connectHybridVsock(vsock, AGENT_VSOCK_PORT)).conn;
  }
  return null;
}

/** Resend the hello this often until kestrel answers (it may still be booting). */
const HELLO_EVERY_MS = 2_000;
/**
 * Give a dial up after this long without kestrel's hello: a guest without our
 * kestrel (its own init) never answers, and the port must not collect hellos
 * forever. The next request dials again.
 */
const HANDSHAKE_MS = 30_000;
/**
 * How long a request waits for a link being dialled to a guest known to speak the channel (its
 * marker is there) before it takes the network: a restarted daemon's first dial answers in
 * milliseconds, a rebooting guest's kestrel in a few seconds.
 */
const SPOKEN_WAIT_MS = 10_000;

class ChannelLink {
  readonly channel: string;
  key: string | undefined;
  dial: Dial;
  readonly client: Deno.HttpClient;
  /** This link's local HTTP socket (each connection to it is one stream). */
  readonly httpSocket: string;
  #listener: Deno.UnixListener;
  #session: Promise<MuxSession> | null = null;
  #conn: Deno.UnixConn | null = null;
  #closed = false;
  /** True while a session kestrel answered is up: only then do requests take the channel. */
  #ready = false;
  /** Streams opened over the link so far (tests assert the channel was used). */
  opened = 0;

  constructor(channel: string, key: string | undefined, dial: Dial) {
    this.channel = channel;
    this.key = key;
    this.dial = dial;
    const path = this.httpSocket = linkHttpSocket(channel);
    this.#listener = Deno.listen({ transport: "unix", path });
    Deno.chmodSync(path, 0o600);
    this.client = Deno.createHttpClient({ proxy: { transport: "unix", path } });
    void this.#accept();
  }

  async #accept(): Promise<void> {
    for await (const conn of this.#listener) void this.#pipe(conn);
  }

  async #pipe(conn: Deno.UnixConn): Promise<void> {
    let s: MuxStream;
    try {
      s = await (await this.session()).open();
    } catch (e) {
      if (!(e instanceof Error)) throw e;
      conn.close();
      return;
    }
    this.opened++;
    const up = conn.readable.pipeTo(s.writable);
    const down = s.readable.pipeTo(conn.writable);
    const [a, b] = await Promise.allSettled([up, down]);
    if (a.status === "rejected" || b.status === "rejected") s.reset();
    try {
      conn.close();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
  }

  /** The handshaken session, dialing when there is none. */
  session(): Promise<MuxSession> {
    if (this.#closed) return Promise.reject(new Error("agent channel closed"));
    this.#session ??= this.#dial().catch((e) => {
      this.#session = null;
      throw e;
    });
    return this.#session;
  }

  async #dial(): Promise<MuxSession> {
    const conn = await this.dial();
    this.#conn = conn;
    const nonce = crypto.randomUUID();
    const writer = conn.writable.getWriter();
    let ready!: () => void;
    const handshake = new Promise<void>((r) => ready = r);
    const session = new MuxSession({
      role: "host",
      // A link closed under a live session (the VM's dir went, daemon shutdown): frames still
      // queued fail as the socket goes; #read then drops the session.
      write: (b) =>
        writer.write(b).catch((e: unknown) => {
          if (!isConnectionGone(e)) throw e;
        }),
      onHello: (h) => {
        if (h.nonce === nonce) ready();
        return false; // kestrel's hello answers ours: nothing of this session to reset
      },
    });
    const dropped = this.#read(conn, session);
    const hello = () => session.hello({ nonce, key: this.key });
    await hello();
    const timer = setInterval(() => hello().catch(() => {}), HELLO_EVERY_MS);
    let giveUp: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        handshake,
        dropped.then(() => Promise.reject(new Error("agent channel closed"))),
        new Promise<never>((_, reject) => {
          giveUp = setTimeout(() => {
            // The guest no longer speaks the channel (another init?): later requests must not wait.
            forgetSpoken(this.channel);
            reject(new Error(`no kestrel answered on the agent channel in ${HANDSHAKE_MS} ms`));
          }, HANDSHAKE_MS);
        }),
      ]);
    } catch (e) {
      closeQuietly(conn); // #read then drops this session, so the next request dials again
      throw e;
    } finally {
      clearInterval(timer);
      clearTimeout(giveUp);
    }
    if (this.#conn === conn) this.#ready = true;
    markSpoken(this.channel);
    return session;
  }

  async #read(conn: Deno.UnixConn, session: MuxSession): Promise<void> {
    try {
      for await (const chunk of conn.readable) session.feed(chunk);
    } catch (e) {
      if (!(e instanceof MuxProtocolError || isConnectionGone(e))) throw e;
    } finally {
      session.close("the agent channel closed");
      if (this.#conn === conn) {
        this.#conn = null;
        this.#session = null;
        this.#ready = false;
      }
      closeQuietly(conn);
    }
  }

  /** Whether a session kestrel answered is up now. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Starts a dial when none is under way (a failed one is retried by the next call). */
  warm(): void {
    this.session().catch((e: unknown) => {
      if (!(e instanceof Error)) throw e; // expected: closed, refused, or no kestrel answered
    });
  }

  close(): void {
    this.#closed = true;
    this.#listener.close();
    this.client.close();
    try {
      this.#conn?.close();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
    try {
      Deno.removeSync(this.httpSocket);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
}

/** One link per VM channel socket, made on first use. */
export class AgentChannels {
  readonly #links = new Map<string, ChannelLink>();

  /**
   * The HTTP client that reaches kestrel over `channel`, or null when the
   * VMM offers no channel there (no socket: another VMM, or the VM is down)
   * or kestrel has not answered on it yet: the caller then goes by the
   * network, while the link dials. A guest without our kestrel (its own
   * init) never answers, so it is always reached by the network.
   */
  client(channel: string, key: string | undefined): Deno.HttpClient | null {
    let link = this.#links.get(channel);
    if (link && !existsSync(link.httpSocket)) {
      // The VM's runtime dir was removed (deleted, then maybe made again under its name): the
      // link's local socket went with it, so a new link must listen again.
      link.close();
      this.#links.delete(channel);
      link = undefined;
    }
    const dial = dialerFor(channel);
    if (!dial) {
      if (link) {
        link.close();
        this.#links.delete(channel);
      }
      return null;
    }
    if (!link) {
      link = new ChannelLink(channel, key, dial);
      this.#links.set(channel, link);
    }
    link.key = key;
    link.dial = dial;
    if (link.ready) return link.client;
    link.warm();
    return null;
  }

  /**
   * Like {@linkcode client}, but when kestrel answered on `channel` before (a previous daemon's
   * link, or this one's before the VM restarted) and the link is being dialled, waits up to
   * SPOKEN_WAIT_MS (or `signal`) for it instead of sending the request to the network at once:
   * a VM whose network is down, or that has none, stays reachable across a daemon restart.
   */
  async clientWhenUp(
    channel: string,
    key: string | undefined,
    signal?: AbortSignal,
  ): Promise<Deno.HttpClient | null> {
    const now = this.client(channel, key);
    if (now || !existsSync(spokenMarker(channel))) return now;
    const link = this.#links.get(channel);
    if (!link) return null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waits = [
      link.session().then(() => true, () => false),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), SPOKEN_WAIT_MS)),
    ];
    if (signal) waits.push(abortedAsFalse(signal));
    try {
      return (await Promise.race(waits)) && link.ready ? link.client : null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves once kestrel has answered on `channel` (after a first client() call made the link). */
  async established(channel: string): Promise<void> {
    const link = this.#links.get(channel);
    if (!link) throw new Error(`no agent channel link for ${channel}`);
    await link.session();
  }

  /** The local HTTP socket of `channel`'s link while kestrel answers on it (else undefined). */
  httpSocket(channel: string): string | undefined {
    const link = this.#links.get(channel);
    return link?.ready ? link.httpSocket : undefined;
  }

  /** Like {@linkcode httpSocket}, waiting as {@linkcode clientWhenUp} does. */
  async httpSocketWhenUp(channel: string, key: string | undefined): Promise<string | undefined> {
    return (await this.clientWhenUp(channel, key)) ? this.httpSocket(channel) : undefined;
  }

  /** How many streams went over `channel` (0 when never used). */
  streams(channel: string): number {
    return this.#links.get(channel)?.opened ?? 0;
  }

  close(): void {
    for (const l of this.#links.values()) l.close();
    this.#links.clear();
  }
}

/** What reading a socket throws when it was closed under us (by us or the peer). */
function isConnectionGone(e: unknown): boolean {
  return e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.Interrupted ||
    e instanceof Deno.errors.BadResource || e instanceof Deno.errors.BrokenPipe;
}

/** Resolves false when `signal` aborts (never rejects). */
function abortedAsFalse(signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((r) => signal.addEventListener("abort", () => r(false), { once: true }));
}

/** Records that kestrel answered on `channel`; the VM's runtime dir may be gone already. */
function markSpoken(channel: string): void {
  try {
    Deno.writeTextFileSync(spokenMarker(channel), "");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

function forgetSpoken(channel: string): void {
  try {
    Deno.removeSync(spokenMarker(channel));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Closes `c` unless it is already closed. */
function closeQuietly(c: Deno.Conn): void {
  try {
    c.close();
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
  }
}
