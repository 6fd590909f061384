/**
 * The CLI's view of the terminal, injected so commands are testable: line
 * output, raw byte output, stdin, and whether stderr/stdin are terminals.
 *
 * @module
 */

/** Where commands write and read. */
export interface Io {
  /** One line (or block) on stdout. */
  out(text: string): void;
  /** One line on stderr. */
  err(text: string): void;
  /** Raw bytes on stdout (logs, console). */
  write(data: Uint8Array): Promise<void>;
  /** Raw text on stderr without a newline (progress bars). */
  errRaw(text: string): void;
  /** Raw bytes on stderr (exec); absent = decoded and passed to errRaw. */
  writeErr?(data: Uint8Array): Promise<void>;
  stdin: ReadableStream<Uint8Array>;
  stdinIsTerminal: boolean;
  stderrIsTerminal: boolean;
  /** Puts stdin in raw mode (only when it is a terminal). */
  setRaw(raw: boolean): void;
  /** Environment lookup. */
  env(name: string): string | undefined;
  /** Current directory, to make manifest paths absolute. */
  cwd(): string;
}

const encoder = new TextEncoder();

async function writeAll(w: { write(p: Uint8Array): Promise<number> }, data: Uint8Array) {
  let off = 0;
  while (off < data.length) off += await w.write(data.subarray(off));
}

/** The real process streams. */
export function processIo(): Io {
  return {
    out: (text) => console.log(text),
    err: (text) => console.error(text),
    write: (data) => writeAll(Deno.stdout, data),
    writeErr: (data) => writeAll(Deno.stderr, data),
    errRaw: (text) => {
      Deno.stderr.writeSync(encoder.encode(text));
    },
    // A getter: making the stream loads Deno's web streams (~20 ms) that most commands never use.
    get stdin() {
      return Deno.stdin.readable;
    },
    stdinIsTerminal: Deno.stdin.isTerminal(),
    stderrIsTerminal: Deno.stderr.isTerminal(),
    setRaw: (raw) => {
      if (Deno.stdin.isTerminal()) Deno.stdin.setRaw(raw);
    },
    env: (name) => Deno.env.get(name),
    cwd: () => Deno.cwd(),
  };
}
