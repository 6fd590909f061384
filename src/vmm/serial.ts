/**
 * Serial log and console helpers for the API and CLI: tail, follow, the size
 * cap, and a raw duplex to the serial socket.
 *
 * @module
 */
import { sleep } from "./exit_watch.ts";

/** The last `lines` lines of the log (reads at most the last `maxBytes`). */
export async function tailSerialLog(
  path: string,
  lines: number,
  maxBytes = 1 << 20,
): Promise<string> {
  const f = await Deno.open(path, { read: true });
  try {
    const size = (await f.stat()).size;
    const start = Math.max(0, size - maxBytes);
    await f.seek(start, Deno.SeekMode.Start);
    const buf = new Uint8Array(size - start);
    let off = 0;
    while (off < buf.length) {
      const n = await f.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    const text = new TextDecoder().decode(buf.subarray(0, off));
    if (lines <= 0) return "";
    const parts = text.split("\n");
    const trailing = parts.at(-1) === "" ? parts.pop() : undefined;
    const kept = parts.slice(-lines).join("\n");
    return trailing === undefined ? kept : kept + "\n";
  } finally {
    f.close();
  }
}

/**
 * Yields what is appended to the log from its current end (or `fromStart`)
 * until `signal` aborts. Survives in-place trimming (the offset resets).
 */
export async function* followSerialLog(
  path: string,
  signal: AbortSignal,
  opts: {
    fromStart?: boolean;
    pollMs?: number;
    /** Told once the start offset is taken: bytes appended after it will be yielded. */
    onFollowing?: () => void;
  } = {},
): AsyncGenerator<Uint8Array> {
  const f = await Deno.open(path, { read: true });
  try {
    let offset = opts.fromStart ? 0 : (await f.stat()).size;
    opts.onFollowing?.();
    const buf = new Uint8Array(64 * 1024);
    while (!signal.aborted) {
      const size = (await f.stat()).size;
      if (size < offset) offset = 0; // trimmed under us: start over at the kept tail
      if (size > offset) {
        await f.seek(offset, Deno.SeekMode.Start);
        const n = await f.read(buf);
        if (n !== null && n > 0) {
          offset += n;
          yield buf.slice(0, n);
          continue;
        }
      }
      try {
        await sleep(opts.pollMs ?? 100, signal);
      } catch (e) {
        if (signal.aborted) return;
        throw e;
      }
    }
  } finally {
    f.close();
  }
}

/**
 * Keeps the log under `maxBytes`: when bigger, keeps its last half. The VMM
 * writes with O_APPEND (QEMU `logappend=on`), so truncating in place is safe;
 * bytes written during the trim itself may be lost, which a log tolerates.
 * Returns true when it trimmed.
 */
export async function capSerialLog(path: string, maxBytes: number): Promise<boolean> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { read: true, write: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  try {
    const size = (await f.stat()).size;
    if (size <= maxBytes) return false;
    const keep = Math.floor(maxBytes / 2);
    await f.seek(size - keep, Deno.SeekMode.Start);
    const tail = new Uint8Array(keep);
    let off = 0;
    while (off < keep) {
      const n = await f.read(tail.subarray(off));
      if (n === null) break;
      off += n;
    }
    // Start at a line boundary so readers never see half a line first.
    const nl = tail.subarray(0, off).indexOf(10);
    const kept = nl >= 0 && nl < off - 1 ? tail.subarray(nl + 1, off) : tail.subarray(0, off);
    await f.truncate(0);
    await f.seek(0, Deno.SeekMode.Start);
    let w = 0;
    while (w < kept.length) w += await f.write(kept.subarray(w));
    return true;
  } finally {
    f.close();
  }
}

/** Runs `capSerialLog` every `intervalMs` until stopped; never keeps the process alive. */
export function startSerialLogCap(path: string, maxBytes: number, intervalMs = 2000): () => void {
  let busy = false;
  const id = setInterval(() => {
    if (busy) return;
    busy = true;
    capSerialLog(path, maxBytes).catch((e) => {
      console.error(`volant: trimming ${path} failed: ${e}`);
    }).finally(() => busy = false);
  }, intervalMs);
  Deno.unrefTimer(id);
  return () => clearInterval(id);
}

/** A raw duplex to the VM's serial console (one client at a time on QEMU's socket). */
export async function connectConsole(socketPath: string): Promise<Deno.UnixConn> {
  return await Deno.connect({ transport: "unix", path: socketPath });
}
