/**
 * The default serial log reader: reads the VM's serial log file directly.
 * Tail scans backwards in blocks; follow polls the size (the log is written
 * by the VMM, a different process, so no in-process notification exists) and
 * restarts from 0 if the file was truncated by the size cap.
 *
 * @module
 */
import type { SerialLogReader } from "./deps.ts";

const BLOCK = 64 * 1024;
const NEWLINE = 0x0a;

/** Options of {@linkcode fileLogReader}. */
export interface FileLogReaderOptions {
  /** Poll interval while following, default 200 ms. */
  pollMs?: number;
  /** Longest tail returned, default 4 MiB. */
  maxTailBytes?: number;
}

async function openOrNull(path: string): Promise<Deno.FsFile | null> {
  try {
    return await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** Creates a reader over plain files. */
export function fileLogReader(options: FileLogReaderOptions = {}): SerialLogReader {
  const pollMs = options.pollMs ?? 200;
  const maxTail = options.maxTailBytes ?? 4 * 1024 * 1024;
  return {
    async tail(path, lines) {
      const file = await openOrNull(path);
      if (file === null) return { data: new Uint8Array(), end: 0 };
      try {
        const end = (await file.stat()).size;
        const floor = Math.max(0, end - maxTail);
        if (lines === 0) return { data: await readAt(file, floor, end - floor), end };
        // Walk back block by block until `lines` newlines precede the end (a
        // trailing newline does not start a new line).
        let start = end;
        let seen = 0;
        while (start > floor) {
          const from = Math.max(floor, start - BLOCK);
          const chunk = await readAt(file, from, start - from);
          for (let i = chunk.length - 1; i >= 0; i--) {
            if (chunk[i] !== NEWLINE || from + i === end - 1) continue;
            seen++;
            if (seen === lines) {
              return { data: await readAt(file, from + i + 1, end - (from + i + 1)), end };
            }
          }
          start = from;
        }
        return { data: await readAt(file, floor, end - floor), end };
      } finally {
        file.close();
      }
    },
    follow(path, offset, signal) {
      let position = offset;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let cancelled = false;
      const done = () => cancelled || signal.aborted;
      return new ReadableStream<Uint8Array>({
        start(controller) {
          const stop = () => {
            if (timer !== undefined) clearTimeout(timer);
            try {
              controller.close();
            } catch (error) {
              // Already closed or cancelled by the consumer: nothing left to do.
              if (!(error instanceof TypeError)) throw error;
            }
          };
          if (signal.aborted) return stop();
          signal.addEventListener("abort", stop, { once: true });
          const poll = async () => {
            if (done()) return;
            try {
              const file = await openOrNull(path);
              if (file !== null) {
                try {
                  const size = (await file.stat()).size;
                  if (size < position) position = 0; // truncated by the size cap
                  if (size > position) {
                    const data = await readAt(file, position, size - position);
                    position += data.length;
                    if (!done()) controller.enqueue(data);
                  }
                } finally {
                  file.close();
                }
              }
            } catch (error) {
              if (!done()) controller.error(error);
              return;
            }
            if (!done()) timer = setTimeout(poll, pollMs);
          };
          timer = setTimeout(poll, 0);
        },
        cancel() {
          cancelled = true;
          if (timer !== undefined) clearTimeout(timer);
        },
      });
    },
  };
}
