/**
 * An Io that records what a command prints, for in-process tests of
 * commands and output formatting (the subprocess tests in
 * tests/integration/cli_*_test.ts use the real process streams).
 *
 * @module
 */
import type { Io } from "./io.ts";

/** A recording Io plus what it recorded. */
export interface CapturedIo {
  io: Io;
  /** Everything printed on stdout (lines joined by \n, raw writes as they came). */
  stdout(): string;
  stderr(): string;
}

/** Builds a recording Io. */
export function captureIo(opts: {
  stdin?: string;
  env?: Record<string, string>;
  cwd?: string;
  stderrIsTerminal?: boolean;
} = {}): CapturedIo {
  let out = "";
  let err = "";
  const dec = new TextDecoder();
  const io: Io = {
    out: (t) => out += `${t}\n`,
    err: (t) => err += `${t}\n`,
    errRaw: (t) => err += t,
    write: (d) => {
      out += dec.decode(d);
      return Promise.resolve();
    },
    stdin: new Blob([opts.stdin ?? ""]).stream(),
    stdinIsTerminal: false,
    stderrIsTerminal: opts.stderrIsTerminal ?? false,
    setRaw: () => {},
    env: (name) => opts.env?.[name],
    cwd: () => opts.cwd ?? "/",
  };
  return { io, stdout: () => out, stderr: () => err };
}
