/**
 * Cloud Hypervisor's `--serial socket=` has no log file: this pump stays
 * connected to the socket and appends what the guest prints to serial.log
 * (reconnecting if the connection drops) while the daemon runs. Output printed
 * while no daemon runs is lost, and the pump is the socket's client, so an
 * interactive console needs the daemon to fan out (not done yet).
 *
 * @module
 */

/** Starts pumping; returns a stop function. */
export function startSerialPump(socketPath: string, logPath: string): () => void {
  const ac = new AbortController();
  (async () => {
    while (!ac.signal.aborted) {
      let conn: Deno.UnixConn;
      try {
        conn = await Deno.connect({ transport: "unix", path: socketPath });
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused)) {
          throw e;
        }
        await nap(50);
        continue;
      }
      const log = await Deno.open(logPath, { append: true, create: true, mode: 0o600 });
      const onAbort = () => conn.close();
      ac.signal.addEventListener("abort", onAbort, { once: true });
      try {
        const buf = new Uint8Array(16 * 1024);
        while (true) {
          const n = await conn.read(buf);
          if (n === null) break;
          let w = 0;
          while (w < n) w += await log.write(buf.subarray(w, n));
        }
      } catch (e) {
        // The VMM went away or we closed the socket on stop: both end this connection.
        if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.ConnectionReset)) {
          throw e;
        }
      } finally {
        ac.signal.removeEventListener("abort", onAbort);
        log.close();
        try {
          conn.close();
        } catch (e) {
          if (!(e instanceof Deno.errors.BadResource)) console.error(`serial pump: ${e}`);
        }
      }
      await nap(50);
    }
  })().catch((e) => console.error(`volant: serial pump for ${socketPath} stopped: ${e}`));
  return () => ac.abort();
}

/** A short unref'd pause; the loops re-check the abort flag after it. */
function nap(ms: number): Promise<void> {
  return new Promise((resolve) => Deno.unrefTimer(setTimeout(resolve, ms)));
}
