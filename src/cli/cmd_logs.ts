/**
 * `volar vms logs NAME [-f] [--tail N]`: the VM's serial log, raw bytes to
 * stdout; with -f it keeps streaming until Ctrl-C (exit 0) or the daemon
 * closes the stream.
 *
 * @module
 */
import { intFlag } from "./args.ts";
import type { Command } from "./command.ts";

export const vmsLogs: Command = {
  path: ["vms", "logs"],
  summary: "print a VM's serial console log (-f follows it)",
  args: "NAME",
  example: "volar vms logs web -f --tail 50",
  options: {
    follow: { type: "boolean", short: "f", help: "keep printing new output until Ctrl-C" },
    tail: {
      type: "string",
      short: "n",
      value: "N",
      help: "last N lines first (default 200; 0 = the whole retained log)",
    },
  },
  arity: [1, 1],
  interruptible: true,
  async run(ctx) {
    const stream = await ctx.client().vmLogs(ctx.positionals[0], {
      tail: intFlag(ctx.values, "tail", 0, 100_000),
      follow: ctx.values.follow === true,
      signal: ctx.signal,
    });
    const reader = stream.getReader();
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        await ctx.io.write(value);
      }
    } catch (error) {
      if (!ctx.signal.aborted) throw error;
    }
    return 0;
  },
};
