/**
 * A bounded byte ring for the workload's output: keeps the newest `capacity`
 * bytes and drops the oldest, so a chatty workload cannot grow PID 1's memory.
 *
 * @module
 */

export class RingBuffer {
  readonly capacity: number;
  #buf: Uint8Array;
  #start = 0;
  #length = 0;
  #total = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be >= 1");
    this.capacity = capacity;
    this.#buf = new Uint8Array(capacity);
  }

  /** Bytes currently held. */
  get length(): number {
    return this.#length;
  }

  /** Bytes ever written (held + dropped). */
  get totalWritten(): number {
    return this.#total;
  }

  write(chunk: Uint8Array): void {
    this.#total += chunk.length;
    let data = chunk;
    if (data.length >= this.capacity) {
      data = data.subarray(data.length - this.capacity);
      this.#buf.set(data);
      this.#start = 0;
      this.#length = this.capacity;
      return;
    }
    const end = (this.#start + this.#length) % this.capacity;
    const first = Math.min(data.length, this.capacity - end);
    this.#buf.set(data.subarray(0, first), end);
    this.#buf.set(data.subarray(first), 0);
    const overflow = this.#length + data.length - this.capacity;
    if (overflow > 0) {
      this.#start = (this.#start + overflow) % this.capacity;
      this.#length = this.capacity;
    } else {
      this.#length += data.length;
    }
  }

  /** A copy of the held bytes, oldest first. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    const first = Math.min(this.#length, this.capacity - this.#start);
    out.set(this.#buf.subarray(this.#start, this.#start + first));
    out.set(this.#buf.subarray(0, this.#length - first), first);
    return out;
  }

  /** The held output as text; with `lines`, only the last `lines` lines. */
  text(lines?: number): string {
    const text = new TextDecoder().decode(this.bytes());
    if (lines === undefined) return text;
    if (lines <= 0) return "";
    const parts = text.split("\n");
    const trailing = parts.at(-1) === "" ? parts.pop() : undefined;
    const tail = parts.slice(-lines).join("\n");
    return trailing === undefined ? tail : tail + "\n";
  }
}
