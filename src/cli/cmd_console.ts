/**
 * `volar vms console NAME`: the VM's serial console. On a terminal, stdin
 * goes raw (keys, Ctrl-C included, reach the guest) and Ctrl-] detaches;
 * the terminal is restored on every exit path (detach, console closed,
 * error, SIGTERM/SIGHUP). Without a terminal, stdin is copied as it is and
 * its end detaches after a short linger for the last output.
 *
 * @module
 */
import type { Command } from "./command.ts";

/** The detach key: Ctrl-] (0x1d), as in telnet. */
export const ESCAPE_BYTE = 0x1d;

/** How long to keep reading output after stdin ended (non-terminal mode). */
const LINGER_MS = 500;

/** Splits input at the escape byte: what to send, and whether to detach. */
export function splitAtEscape(chunk: Uint8Array): { send: Uint8Array; detach: boolean } {
  const i = chunk.indexOf(ESCAPE_BYTE);
  return i === -1 ? { send: chunk, detach: false } : { send: chunk.subarray(0, i), detach: true };
}

export const vmsConsole: Command = {
  path: ["vms", "console"],
  summary: "attach to a VM's serial console (detach with Ctrl-])",
  args: "NAME",
  description: "Raw terminal: every key, Ctrl-C included, goes to the guest. Press Ctrl-]\n" +
    "to detach. Without a terminal, stdin is sent as it is and its end detaches.",
  example: "volar vms console web",
  options: {},
  arity: [1, 1],
  interruptible: true,
  async run(ctx) {
    const name = ctx.positionals[0];
    const session = await ctx.client().openConsole(name, { signal: ctx.signal });
    const tty = ctx.io.stdinIsTerminal;
    ctx.io.err(`connected to vm ${name} console${tty ? " (detach: Ctrl-])" : ""}`);
    const input = ctx.io.stdin.getReader();
    let why: string;
    // Both pumps end the session; whichever loses may reject later (released reader,
    // closed socket), which is expected and reported through `why` only.
    const settle = (p: Promise<string>) => p.catch((error: unknown) => `error: ${String(error)}`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      if (tty) ctx.io.setRaw(true);
      const outputDone = settle((async () => {
        const reader = session.output.getReader();
        while (true) {
          const { value, done } = await reader.read();
          if (done) return "closed";
          await ctx.io.write(value);
        }
      })());
      const inputDone = settle((async () => {
        while (true) {
          const { value, done } = await input.read();
          if (done) {
            await new Promise((r) => timer = setTimeout(r, LINGER_MS));
            return "input ended";
          }
          const { send, detach } = tty ? splitAtEscape(value) : { send: value, detach: false };
          if (send.length > 0) session.send(send);
          if (detach) return "detached";
        }
      })());
      const aborted = new Promise<string>((resolve) => {
        if (ctx.signal.aborted) resolve("interrupted");
        ctx.signal.addEventListener("abort", () => resolve("interrupted"), { once: true });
      });
      why = await Promise.race([outputDone, inputDone, aborted]);
    } finally {
      if (tty) ctx.io.setRaw(false);
      clearTimeout(timer);
      session.close();
      input.releaseLock();
    }
    let wait: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      session.closed,
      new Promise<undefined>((r) => wait = setTimeout(() => r(undefined), 1000)),
    ]);
    clearTimeout(wait);
    const reason = closed && closed.code !== 1000 && closed.reason ? ` (${closed.reason})` : "";
    const nl = tty ? "\r\n" : "";
    ctx.io.err(
      why === "closed"
        ? `${nl}vm ${name} console closed by volantd${reason}`
        : `${nl}${why}: left vm ${name} console`,
    );
    return 0;
  },
};
