/**
 * The terminal side of `volar vms exec -it` and `volar vms shell`: stdin goes
 * raw (every key, Ctrl-C included, is a byte for the guest's terminal, whose
 * line discipline turns it into SIGINT for the foreground job), SIGWINCH
 * becomes a resize message, and the terminal is restored on every way out
 * (exit, error, SIGTERM/SIGHUP). The process's exit code is volar's.
 * Loaded only by those commands.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { PtyExitMessage, PtyQueryInput } from "../manifest/pty_query.ts";
import type { CommandContext } from "./command.ts";

/** Exit code when volar itself was told to stop (SIGTERM/SIGHUP) mid-session. */
const INTERRUPTED_EXIT = 130;

/** The size of volar's terminal (stdout, else stderr), or undefined without one. */
export function terminalSize(): { rows: number; cols: number } | undefined {
  try {
    const { rows, columns } = Deno.consoleSize();
    return rows > 0 && columns > 0 ? { rows, cols: columns } : undefined;
  } catch (_notATerminal) {
    return undefined;
  }
}

/** Runs `req` on a terminal in VM `name`; resolves to its exit code. */
export async function runPtySession(
  ctx: CommandContext,
  name: string,
  req: PtyQueryInput,
  what: string,
): Promise<number> {
  if (!ctx.io.stdinIsTerminal) {
    throw new VolantError(
      "usage",
      `${what} needs a terminal on stdin (without -t, input is piped)`,
    );
  }
  const size = terminalSize() ?? { rows: 24, cols: 80 };
  const session = await ctx.client().openPty(name, {
    ...req,
    ...size,
    term: ctx.io.env("TERM") || "xterm",
  });
  const input = ctx.io.stdin.getReader();
  const onWinch = () => {
    const s = terminalSize();
    if (s) session.send(JSON.stringify({ type: "resize", ...s })).catch((_closed) => {});
  };
  let exit: PtyExitMessage | undefined;
  let interrupted = false;
  ctx.io.setRaw(true);
  try {
    Deno.addSignalListener("SIGWINCH", onWinch);
    // Input ends with the session; its read is released in finally.
    (async () => {
      for (;;) {
        const { value, done } = await input.read();
        if (done) break;
        await session.send(value);
      }
    })().catch((_released) => {});
    const stop = new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener("abort", () => resolve(), { once: true });
    }).then(() => {
      interrupted = true;
      session.close(1000, "volar interrupted");
    });
    const output = (async () => {
      for await (const m of session.messages()) {
        if (typeof m !== "string") await ctx.io.write(m);
        else {
          const msg = JSON.parse(m) as PtyExitMessage;
          if (msg.type === "exit") exit = msg;
        }
      }
    })();
    await Promise.race([output, stop]);
  } finally {
    Deno.removeSignalListener("SIGWINCH", onWinch);
    ctx.io.setRaw(false);
    input.releaseLock();
    session.close();
  }
  if (exit) return exit.exit_code;
  if (interrupted) return INTERRUPTED_EXIT;
  const { code, reason } = await session.closed;
  throw new VolantError(
    "upstream",
    `the terminal session with vm ${name} ended without an exit (${code}${
      reason ? `: ${reason}` : ""
    })`,
  );
}
