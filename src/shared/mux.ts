/**
 * A multiplexing session over the agent channel (frames: mux_codec.ts). Each
 * stream is a pair of web streams; pure (no Deno I/O): the owner feeds it the
 * bytes it reads and gives it a `write` for the bytes it sends.
 *
 * Flow control is per stream and per direction: a sender may have at most
 * the credit the receiver granted in flight ({@linkcode INITIAL_WINDOW} at
 * open, topped up by window frames as the reader consumes). Data goes out in
 * chunks of at most {@linkcode CHUNK} bytes through one FIFO, so a 100 MiB
 * copy holds the link for one chunk at a time and a health request's frames
 * get through between two of them.
 *
 * @module
 */
import { encodeFrame, type Frame, FrameDecoder, type HelloPayload } from "./mux_codec.ts";

export const INITIAL_WINDOW = 256 * 1024;
export const CHUNK = 32 * 1024;

/** One stream: what the peer sends arrives on `readable`; `writable` sends to the peer. */
export interface MuxStream {
  readonly id: number;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** Drops the stream in both directions (sends reset). */
  reset(): void;
}

export interface MuxOptions {
  /** Sends bytes to the peer; called one at a time, in order. */
  write(bytes: Uint8Array): Promise<void>;
  /** Which ids this side opens: host odd, guest even. */
  role: "host" | "guest";
  /** A stream the peer opened. */
  onOpen?(stream: MuxStream): void;
  /**
   * The peer's hello. Every stream is reset after it unless this returns
   * false (a repeat of the hello of the session already running).
   */
  onHello?(hello: HelloPayload): boolean | void;
  /** Initial per-stream credit (tests shrink it). */
  window?: number;
}

export class MuxClosedError extends Error {
  override name = "MuxClosedError";
}

class Stream implements MuxStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  #queue: Uint8Array[] = [];
  #ended = false;
  #failed: Error | null = null;
  #wakeReader: (() => void) | null = null;
  #credit: number;
  #wakeWriter: (() => void) | null = null;
  /** Bytes read but not yet granted back to the peer. */
  #consumed = 0;
  /** Bytes the peer may still send before a grant. */
  #granted: number;
  #sentClose = false;
  #gotClose = false;
  #gone = false;

  constructor(readonly id: number, readonly session: MuxSession, window: number) {
    this.#credit = window;
    this.#granted = window;
    this.readable = new ReadableStream<Uint8Array>({
      pull: async (c) => {
        while (this.#queue.length === 0 && !this.#ended && !this.#failed) {
          await new Promise<void>((r) => this.#wakeReader = r);
        }
        if (this.#failed) return c.error(this.#failed);
        const chunk = this.#queue.shift();
        if (!chunk) {
          c.close();
          return;
        }
        c.enqueue(chunk);
        this.#consumed += chunk.length;
        if (this.#consumed >= window / 4 && !this.#gotClose) {
          this.#granted += this.#consumed;
          session.send({ type: "window", id, credit: this.#consumed }).catch(() => {});
          this.#consumed = 0;
        }
      },
      cancel: () => this.reset(),
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      write: async (bytes) => {
        for (let at = 0; at < bytes.length;) {
          while (this.#credit === 0 && !this.#failed) {
            await new Promise<void>((r) => this.#wakeWriter = r);
          }
          if (this.#failed) throw this.#failed;
          const n = Math.min(CHUNK, this.#credit, bytes.length - at);
          this.#credit -= n;
          await session.send({ type: "data", id, data: bytes.subarray(at, at + n) });
          at += n;
        }
      },
      close: async () => {
        if (this.#failed) throw this.#failed;
        this.#sentClose = true;
        await session.send({ type: "close", id });
        this.#maybeDone();
      },
      abort: () => this.reset(),
    });
  }

  reset(): void {
    if (this.#gone) return;
    this.fail(new MuxClosedError(`stream ${this.id} reset`));
    this.session.send({ type: "reset", id: this.id }).catch(() => {});
  }

  /** Ends both directions with `error` (no frame sent). */
  fail(error: Error): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#failed = error;
    this.#wake();
    this.session.forget(this.id);
  }

  #wake(): void {
    this.#wakeReader?.();
    this.#wakeReader = null;
    this.#wakeWriter?.();
    this.#wakeWriter = null;
  }

  #maybeDone(): void {
    if (this.#sentClose && this.#gotClose && !this.#gone) {
      this.#gone = true;
      this.session.forget(this.id);
    }
  }

  onData(data: Uint8Array): void {
    if (this.#gotClose || data.length > this.#granted) {
      // A peer that ignores credit or writes after close: drop the stream.
      this.reset();
      return;
    }
    this.#granted -= data.length;
    this.#queue.push(data);
    this.#wake();
  }

  onWindow(credit: number): void {
    this.#credit += credit;
    this.#wake();
  }

  onClose(): void {
    this.#gotClose = true;
    this.#ended = true;
    this.#wake();
    this.#maybeDone();
  }
}

export class MuxSession {
  readonly #o: MuxOptions;
  readonly #decoder = new FrameDecoder();
  readonly #streams = new Map<number, Stream>();
  #nextId: number;
  /** Frames waiting for the link; written together, one write per batch. */
  #pending: { bytes: Uint8Array; done: (e?: unknown) => void }[] = [];
  #writing = false;
  #closed: Error | null = null;

  constructor(opts: MuxOptions) {
    this.#o = opts;
    this.#nextId = opts.role === "host" ? 1 : 2;
  }

  /** Open streams (for tests and status). */
  get size(): number {
    return this.#streams.size;
  }

  /** True while the decoder is looking for a hello. */
  get syncing(): boolean {
    return this.#decoder.syncing;
  }

  /** Bytes from the peer. Throws MuxProtocolError on a bad frame (the decoder then resyncs). */
  feed(chunk: Uint8Array): void {
    for (const f of this.#decoder.push(chunk)) this.#dispatch(f);
  }

  /** After the link dropped: every stream fails, the decoder waits for a hello. */
  resync(reason = "the agent channel was reset"): void {
    this.#decoder.resync();
    this.resetAll(reason);
  }

  /** Every stream fails with `reason` (no frames sent: the peer resets its own). */
  resetAll(reason: string): void {
    for (const s of [...this.#streams.values()]) s.fail(new MuxClosedError(reason));
  }

  /** Sends a hello; the peer resets all its streams on it. */
  hello(h: HelloPayload): Promise<void> {
    return this.send({ type: "hello", hello: h });
  }

  /** Opens a stream to the peer. */
  async open(): Promise<MuxStream> {
    if (this.#closed) throw this.#closed;
    const id = this.#nextId;
    this.#nextId += 2;
    if (this.#nextId > 0xffff_fff0) this.#nextId = this.#o.role === "host" ? 1 : 2;
    const s = new Stream(id, this, this.#o.window ?? INITIAL_WINDOW);
    this.#streams.set(id, s);
    await this.send({ type: "open", id });
    return s;
  }

  /** The session is over (the link closed for good): everything fails. */
  close(reason = "the agent channel closed"): void {
    this.#closed ??= new MuxClosedError(reason);
    this.resetAll(reason);
  }

  /**
   * @internal Queues one frame; resolves when written. Frames queued while a
   * write is under way go out together in the next one (one syscall, one
   * thread hop in the guest); each stream has at most one data chunk queued.
   */
  send(f: Frame): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    const bytes = encodeFrame(f);
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ bytes, done: (e) => e === undefined ? resolve() : reject(e) });
      if (!this.#writing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0);
      const out = new Uint8Array(batch.reduce((n, b) => n + b.bytes.length, 0));
      let at = 0;
      for (const b of batch) {
        out.set(b.bytes, at);
        at += b.bytes.length;
      }
      let error: unknown = undefined;
      try {
        await this.#o.write(out);
      } catch (e) {
        error = e ?? new MuxClosedError("write failed");
      }
      for (const b of batch) b.done(error);
    }
    this.#writing = false;
  }

  /** @internal */
  forget(id: number): void {
    this.#streams.delete(id);
  }

  #dispatch(f: Frame): void {
    if (f.type === "hello") {
      if (this.#o.onHello?.(f.hello) !== false) {
        this.resetAll("the peer restarted the agent channel");
      }
      return;
    }
    const s = this.#streams.get(f.id);
    if (f.type === "open") {
      if (s || (f.id % 2 === 1) !== (this.#o.role === "guest")) {
        this.send({ type: "reset", id: f.id }).catch(() => {});
        return;
      }
      const n = new Stream(f.id, this, this.#o.window ?? INITIAL_WINDOW);
      this.#streams.set(f.id, n);
      if (this.#o.onOpen) this.#o.onOpen(n);
      else n.reset();
      return;
    }
    if (!s) {
      // Frames of a stream already reset are expected; a reset answers only data.
      if (f.type === "data") this.send({ type: "reset", id: f.id }).catch(() => {});
      return;
    }
    if (f.type === "data") s.onData(f.data);
    else if (f.type === "window") s.onWindow(f.credit);
    else if (f.type === "close") s.onClose();
    else s.fail(new MuxClosedError(`stream ${f.id} reset by the peer`));
  }
}
