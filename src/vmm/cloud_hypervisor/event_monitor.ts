/**
 * Reads Cloud Hypervisor's `--event-monitor path=` file as it grows. CH writes
 * each event as pretty-printed JSON followed by a blank line
 * (event_monitor/src/lib.rs l. 20-24 and 125, vmm/src/lib.rs l. 434, v53.0):
 * `{"timestamp": {"secs", "nanos"}, "source", "event", "properties"}`.
 *
 * The driver needs two of them: `vm rebooting` (vmm/src/lib.rs l. 2428, the
 * guest reset itself: CH boots it again in place) and `guest panic`
 * (devices/src/pvpanic.rs l. 152, with `--pvpanic` and a guest kernel that
 * has the pvpanic driver).
 *
 * @module
 */

/** One event as CH writes it. */
export interface ChEvent {
  timestamp?: { secs: number; nanos: number };
  source: string;
  event: string;
  properties?: Record<string, string> | null;
}

/** What an event means for the driver: the guest reset (`reboot`), panicked, or neither. */
export function guestResetKind(e: ChEvent): "reboot" | "panic" | null {
  if (e.source === "vm" && e.event === "rebooting") return "reboot";
  if (e.source === "guest" && e.event === "panic") return "panic";
  return null;
}

/** Splits complete events off `buffer`; returns them and the incomplete rest. */
export function parseChEvents(buffer: string): { events: ChEvent[]; rest: string } {
  const parts = buffer.split("\n\n");
  const rest = parts.pop() ?? "";
  const events: ChEvent[] = [];
  for (const part of parts) {
    if (!part.trim()) continue;
    try {
      const e = JSON.parse(part);
      if (typeof e?.source === "string" && typeof e?.event === "string") events.push(e);
    } catch (err) {
      // A torn or foreign record is skipped, not fatal: the next one still counts.
      if (!(err instanceof SyntaxError)) throw err;
      console.error(`volant: unreadable cloud-hypervisor event skipped: ${part.slice(0, 80)}`);
    }
  }
  return { events, rest };
}

/**
 * Polls `path` every `intervalMs` on an unref'd timer and calls `onEvent` for
 * each new event, from the start of the file (an adopting daemon sees what
 * happened while none ran). Returns a stop function.
 */
export function watchChEvents(
  path: string,
  onEvent: (e: ChEvent) => void,
  intervalMs = 200,
): () => void {
  let stopped = false;
  let offset = 0;
  let pending = "";
  const decoder = new TextDecoder();
  const poll = async () => {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    try {
      const size = (await file.stat()).size;
      if (size < offset) { // truncated: a new VMM started on this file
        offset = 0;
        pending = "";
      }
      if (size === offset) return;
      await file.seek(offset, Deno.SeekMode.Start);
      const buf = new Uint8Array(size - offset);
      let read = 0;
      while (read < buf.length) {
        const n = await file.read(buf.subarray(read));
        if (n === null) break;
        read += n;
      }
      offset += read;
      const { events, rest } = parseChEvents(
        pending + decoder.decode(buf.subarray(0, read), { stream: true }),
      );
      pending = rest;
      for (const e of events) if (!stopped) onEvent(e);
    } finally {
      file.close();
    }
  };
  const loop = async () => {
    while (!stopped) {
      await poll();
      await new Promise((resolve) => Deno.unrefTimer(setTimeout(resolve, intervalMs)));
    }
  };
  loop().catch((e) => console.error(`volant: event monitor ${path} stopped: ${e}`));
  return () => {
    stopped = true;
  };
}
