/**
 * The console: kestrel's own lines (`kestrel: ...`) and the workload's raw
 * output both go to fd 2, which the shim dup'ed from /dev/console. Writes are
 * synchronous so a line printed just before poweroff is not lost.
 *
 * @module
 */

/** Where kestrel writes: one method for its own lines, one for workload bytes. */
export interface ConsoleSink {
  line(text: string): void;
  raw(bytes: Uint8Array): void;
}

function writeAll(bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += Deno.stderr.writeSync(bytes.subarray(off));
    } catch (e) {
      // A console that cannot be written (hung up, EIO) must not take PID 1 down.
      if (e instanceof Deno.errors.Interrupted) continue;
      return;
    }
  }
}

const encoder = new TextEncoder();

/** The real console (fd 2). */
export const stderrConsole: ConsoleSink = {
  line: (text) => writeAll(encoder.encode(`kestrel: ${text}\n`)),
  raw: (bytes) => writeAll(bytes),
};

/** A console that records into memory, for tests and benchmarks. */
export class MemoryConsole implements ConsoleSink {
  readonly lines: string[] = [];
  readonly chunks: Uint8Array[] = [];
  line(text: string): void {
    this.lines.push(`kestrel: ${text}`);
  }
  raw(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
  }
  rawText(): string {
    return this.chunks.map((c) => new TextDecoder().decode(c)).join("");
  }
}
