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

/**
 * Workload output on its way to a slow console (a 115200-baud serial line):
 * written asynchronously from a bounded queue, so a chatty workload can never
 * stall PID 1's event loop; what does not fit is dropped from the console
 * (never from the ring buffer) and the count reported.
 */
export class ConsoleQueue {
  readonly limit: number;
  dropped = 0;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #draining = false;
  readonly #write: (bytes: Uint8Array) => Promise<number>;

  constructor(write: (bytes: Uint8Array) => Promise<number>, limit = 64 * 1024) {
    this.#write = write;
    this.limit = limit;
  }

  push(bytes: Uint8Array): void {
    if (this.#queued + bytes.length > this.limit) {
      this.dropped += bytes.length;
      return;
    }
    this.#queue.push(bytes.slice());
    this.#queued += bytes.length;
    if (!this.#draining) void this.#drain();
  }

  async #drain(): Promise<void> {
    this.#draining = true;
    let reported = 0;
    try {
      while (this.#queue.length > 0) {
        const chunk = this.#queue.shift()!;
        let off = 0;
        while (off < chunk.length) off += await this.#write(chunk.subarray(off));
        this.#queued -= chunk.length;
        if (this.dropped > reported && this.#queue.length === 0) {
          const note = `\nkestrel: console fell behind: ${this.dropped - reported} bytes of ` +
            "workload output not shown here (see /v1/logs)\n";
          reported = this.dropped;
          await this.#write(encoder.encode(note));
        }
      }
    } catch (e) {
      // The console went away (EIO, hang-up): drop what is queued, keep PID 1 running.
      this.dropped += this.#queued;
      this.#queue = [];
      this.#queued = 0;
      if (!(e instanceof Error)) throw e;
    } finally {
      this.#draining = false;
    }
  }
}

const workloadOutput = new ConsoleQueue((b) => Deno.stderr.write(b));

/** The real console (fd 2). */
export const stderrConsole: ConsoleSink = {
  line: (text) => writeAll(encoder.encode(`kestrel: ${text}\n`)),
  raw: (bytes) => workloadOutput.push(bytes),
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
