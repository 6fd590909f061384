/**
 * The zod-free half of the PTY exec contract (pty.ts): the query volar
 * builds, the signals, the exit message. volar loads it at start.
 *
 * @module
 */

/** Signals a client may send to the terminal's foreground process group. */
export const PTY_SIGNALS = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGTERM: 15,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGWINCH: 28,
} as const;

/** The server's last message before it closes the socket. */
export interface PtyExitMessage {
  type: "exit";
  /** The exit status; 128+N when killed by signal N. */
  exit_code: number;
  signal: string | null;
}

/** What a PTY session is asked for (validated by PtyRequestSchema in pty.ts). */
export interface PtyQueryInput {
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
  user?: string;
  rows?: number;
  cols?: number;
  term?: string;
}

/** The query string for `r` (argv and env repeated). */
export function ptyQuery(r: PtyQueryInput): URLSearchParams {
  const q = new URLSearchParams();
  for (const a of r.argv) q.append("argv", a);
  for (const [k, v] of Object.entries(r.env ?? {})) q.append("env", `${k}=${v}`);
  for (const k of ["cwd", "user", "rows", "cols", "term"] as const) {
    if (r[k] !== undefined) q.set(k, String(r[k]));
  }
  return q;
}

/** The name of signal number `n` (null for 0). */
export function signalName(n: number): string | null {
  for (const [name, num] of Object.entries(PTY_SIGNALS)) if (num === n) return name;
  return n === 0 ? null : `SIG${n}`;
}
