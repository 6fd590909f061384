/**
 * Cloud Hypervisor's `--serial socket=` has no log file and one client. This
 * pump is that client while the daemon runs: it appends what the guest prints
 * to serial.log and fans it out to console clients on `console.sock`, whose
 * keystrokes it forwards to the guest. Output printed while no daemon runs is
 * not logged (the next pump reconnects).
 *
 * @module
 */
import { removeIfExists } from "../runtime_dir.ts";

/** Where the pump reads, logs and serves. */
export interface SerialPumpOptions {
  /** Cloud Hypervisor's serial socket. */
  vmmSocket: string;
  logPath: string;
  /** The fan-out socket console clients connect to. */
  consoleSocket: string;
}

/** Starts pumping; returns a stop function. Never keeps the process alive. */
export function startSerialPump(o: SerialPumpOptions): () => void {
  let stopped = false;
  let vmm: Deno.UnixConn | null = null;
  const clients = new Set<Deno.UnixConn>();
  let listener: Deno.UnixListener | null = null;

  const closeQuietly = (c: { close(): void }) => {
    try {
      c.close();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) console.error(`serial pump close: ${e}`);
    }
  };

  const serveConsoles = async () => {
    await removeIfExists(o.consoleSocket);
    listener = Deno.listen({ transport: "unix", path: o.consoleSocket });
    listener.unref();
    for await (const conn of listener) {
      clients.add(conn);
      relayKeys(conn).finally(() => {
        clients.delete(conn);
        closeQuietly(conn);
      });
    }
  };

  const relayKeys = async (conn: Deno.UnixConn) => {
    const buf = new Uint8Array(4096);
    while (!stopped) {
      const n = await conn.read(buf).catch(ignoreClosed);
      if (n === null) return;
      if (vmm) await writeAll(vmm, buf.subarray(0, n)).catch(ignoreClosed);
      else queueKeys(buf.slice(0, n));
    }
  };

  // Keys typed before the pump reaches CH's socket (just after a boot or restore) wait for it.
  const pendingKeys: Uint8Array[] = [];
  let pendingBytes = 0;
  const queueKeys = (keys: Uint8Array) => {
    if (pendingBytes + keys.length > 64 * 1024) return; // nobody types that much blind
    pendingKeys.push(keys);
    pendingBytes += keys.length;
  };

  const pump = async () => {
    while (!stopped) {
      try {
        vmm = await Deno.connect({ transport: "unix", path: o.vmmSocket });
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused)) {
          throw e;
        }
        await nap(50);
        continue;
      }
      for (const keys of pendingKeys.splice(0)) await writeAll(vmm, keys).catch(ignoreClosed);
      pendingBytes = 0;
      const log = await Deno.open(o.logPath, { append: true, create: true, mode: 0o600 });
      try {
        const buf = new Uint8Array(16 * 1024);
        while (true) {
          const n = await vmm.read(buf).catch(ignoreClosed);
          if (n === null) break;
          const chunk = buf.subarray(0, n);
          await writeAll(log, chunk);
          for (const c of clients) await writeAll(c, chunk).catch(ignoreClosed);
        }
      } finally {
        log.close();
        closeQuietly(vmm);
        vmm = null;
      }
      await nap(50);
    }
  };

  serveConsoles().catch((e) => {
    if (!stopped) console.error(`volant: console fan-out ${o.consoleSocket} stopped: ${e}`);
  });
  pump().catch((e) => console.error(`volant: serial pump for ${o.vmmSocket} stopped: ${e}`));
  return () => {
    stopped = true;
    if (vmm) closeQuietly(vmm);
    if (listener) closeQuietly(listener);
    for (const c of clients) closeQuietly(c);
  };
}

/** A closed or reset peer ends that stream; anything else is a bug. */
function ignoreClosed(e: unknown): null {
  if (
    e instanceof Deno.errors.BadResource || e instanceof Deno.errors.ConnectionReset ||
    e instanceof Deno.errors.BrokenPipe || e instanceof Deno.errors.Interrupted
  ) return null;
  throw e;
}

async function writeAll(
  w: { write(p: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < data.length) off += await w.write(data.subarray(off));
}

/** A short unref'd pause; the loops re-check `stopped` after it. */
function nap(ms: number): Promise<void> {
  return new Promise((resolve) => Deno.unrefTimer(setTimeout(resolve, ms)));
}
