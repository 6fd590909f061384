/**
 * Test helpers: an Io that records what a command prints (in-process tests
 * of commands and output), and runVolar, which runs volar as a real
 * subprocess invoked by its persona name (tests/integration/cli_*_test.ts).
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

/** Result of {@linkcode runVolar}. */
export interface VolarRun {
  code: number;
  stdout: string;
  stderr: string;
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/**
 * Runs `volar ARGS` as a real subprocess, invoked by the name `volar`
 * (`exec -a volar deno run -A src/main.ts ...`), with `env` added and
 * optional `stdin` text.
 */
export async function runVolar(
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string; cwd?: string } = {},
): Promise<VolarRun> {
  const cmd = new Deno.Command("bash", {
    args: ["-c", `exec -a volar "$0" run -A --no-prompt "${MAIN}" "$@"`, Deno.execPath(), ...args],
    env: { NO_COLOR: "1", ...opts.env },
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const child = cmd.spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
