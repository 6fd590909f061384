/**
 * CONTRACT FAKE of Cloud Hypervisor's hybrid-vsock muxer (the host side of
 * `--vsock cid=N,socket=PATH`). Cloud Hypervisor needs /dev/kvm, which these
 * machines lack; this speaks its host protocol as upstream does
 * (docs/vsock.md; virtio-devices/src/vsock/unix/muxer.rs at v53.0):
 *
 * - PATH is bound when the device is created (muxer.rs l. 380): an existing
 *   file (left by a crash) makes the bind fail;
 * - host -> guest: the host connects to PATH and writes `CONNECT <port>\n`
 *   (prefix case-insensitive, the port trimmed, at most 32 bytes before the
 *   newline: muxer.rs l. 97, 505-535); a bad command closes the connection;
 *   if a guest listener takes it the host reads `OK <host port>\n` (muxer.rs
 *   l. 762; host ports allocated from 2^30, l. 394 and 688-700) and then the
 *   stream is the guest's; if nothing listens the guest answers RST and the
 *   host sees the connection closed, without `OK`;
 * - guest -> host: the guest connects to host listeners at `PATH_<port>`;
 * - PATH is removed on a clean VMM exit only (vsock/device.rs l. 516).
 *
 * @module
 */

/** A guest service: handles one accepted stream (already past `OK`). */
export type FakeGuestService = (conn: Deno.Conn) => Promise<void>;

/** The fake guest's vsock echo port (echoes bytes back). */
export const FAKE_GUEST_ECHO_PORT = 1234;

const COMMAND_MAX = 32;

/** Parses one complete command line (without limits); null when invalid (muxer.rs l. 505-535). */
export function parseConnectCommand(line: string): number | null {
  const prefix = "connect ";
  if (line.length < prefix.length || line.slice(0, prefix.length).toLowerCase() !== prefix) {
    return null;
  }
  const port = line.slice(prefix.length).trim();
  if (!/^\d+$/.test(port)) return null;
  const n = Number(port);
  return n <= 0xffff_ffff ? n : null;
}

/** The muxer of one fake VM. */
export class FakeHybridVsock {
  readonly #listener: Deno.UnixListener;
  readonly #services = new Map<number, FakeGuestService>();
  readonly #conns = new Set<Deno.Conn>();
  #lastLocalPort = (1 << 30) - 1;
  /** CONNECT commands seen, for tests. */
  readonly connects: number[] = [];

  /** Binds `path`; throws AddrInUse when a stale socket is there (as CH fails to boot). */
  constructor(readonly path: string) {
    this.#listener = Deno.listen({ transport: "unix", path });
    this.#accept();
  }

  /** A guest process listening on vsock `port`. */
  listen(port: number, service: FakeGuestService): void {
    this.#services.set(port, service);
  }

  /** The guest connects to the host's `PATH_<port>` listener. */
  connectToHost(port: number): Promise<Deno.UnixConn> {
    return Deno.connect({ transport: "unix", path: `${this.path}_${port}` });
  }

  /** Device teardown: stop accepting and drop streams. `removeSocket` on a clean exit only. */
  close(removeSocket: boolean): void {
    closeQuietly(this.#listener);
    for (const c of this.#conns) closeQuietly(c);
    if (removeSocket) {
      try {
        Deno.removeSync(this.path);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        this.#handle(conn).catch(() => closeQuietly(conn)).finally(() => this.#conns.delete(conn));
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    // Byte by byte, like the muxer, so nothing past the newline is swallowed.
    const cmd: number[] = [];
    const one = new Uint8Array(1);
    while (true) {
      const n = await conn.read(one);
      if (n === null) return closeQuietly(conn);
      cmd.push(one[0]);
      if (one[0] === 0x0a) break;
      if (cmd.length >= COMMAND_MAX) return closeQuietly(conn);
    }
    const port = parseConnectCommand(new TextDecoder().decode(new Uint8Array(cmd.slice(0, -1))));
    if (port === null) return closeQuietly(conn);
    this.connects.push(port);
    const service = this.#services.get(port);
    if (!service) return closeQuietly(conn); // the guest's RST
    const local = this.#allocate();
    await conn.write(new TextEncoder().encode(`OK ${local}\n`));
    await service(conn);
  }

  #allocate(): number {
    // muxer.rs l. 694: wrap within [2^30, 2^31).
    this.#lastLocalPort = ((this.#lastLocalPort + 1) & ~(1 << 31)) | (1 << 30);
    return this.#lastLocalPort;
  }
}

/** The echo service the fake guest runs on FAKE_GUEST_ECHO_PORT. */
export async function echoService(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await conn.write(buf.subarray(off, n));
    }
  } finally {
    closeQuietly(conn);
  }
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
  }
}
