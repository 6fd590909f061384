/**
 * `volar vms exec NAME [-i] [-t] [-e K=V] [-w DIR] [-u USER] [--timeout S] -- CMD [ARGS...]`:
 * runs a process in the VM through its agent; its stdout and stderr arrive
 * on volar's own, and its exit code becomes volar's (124 on --timeout, as
 * timeout(1)). With -i, volar's stdin (read to its end) is the process's.
 * With -t (-it), the process runs on a terminal in the guest, attached to
 * volar's (pty_session.ts); `volar vms shell NAME` is `exec -it NAME -- /bin/sh`.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { ExecRequest } from "../manifest/exec.ts";
import { EXEC_MAX_STDIN_B64 } from "../manifest/values.ts";
import { intFlag, listFlag, stringFlag } from "./args.ts";
import type { Command, CommandContext } from "./command.ts";

/** Exit code when the guest killed the process at --timeout (as coreutils timeout). */
export const TIMEOUT_EXIT = 124;

/** `K=V` pairs of -e into an env object; usage error naming the bad one. */
export function parseEnv(pairs: string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  const env: Record<string, string> = {};
  for (const p of pairs) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(p);
    if (!m) {
      throw new VolantError("usage", `--env must be NAME=VALUE, got '${p}'`, {
        problems: [{ field: "--env", message: `must be NAME=VALUE, got '${p}'` }],
      });
    }
    env[m[1]] = m[2];
  }
  return env;
}

/** All of stdin, bounded by what one exec request may carry. */
async function readStdin(ctx: CommandContext): Promise<Uint8Array> {
  const max = (EXEC_MAX_STDIN_B64 / 4) * 3;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of ctx.io.stdin) {
    size += chunk.length;
    if (size > max) {
      throw new VolantError("usage", `stdin is larger than ${max} bytes: use volar vms cp`);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export const vmsExec: Command = {
  path: ["vms", "exec"],
  summary: "run a command in a VM (its output and exit code are volar's)",
  args: "NAME -- CMD [ARGS...]",
  description: "The command runs through the VM's agent, as root unless --user says\n" +
    "otherwise, in its own session; all of it is killed when the command exits, when volar\n" +
    "ends or at --timeout.\n" +
    "stdout and stderr stay apart. Exit code: the command's (124 after --timeout).\n" +
    "-it: the command runs on a terminal in the guest attached to volar's (raw keys,\n" +
    "Ctrl-C included; window size follows); stdin must be a terminal.",
  example: "volar vms exec web -- cat /etc/os-release; volar vms exec -it web -- sh",
  options: {
    interactive: { type: "boolean", short: "i", help: "send volar's stdin (read to its end)" },
    tty: {
      type: "boolean",
      short: "t",
      help: "run on a terminal attached to volar's (-it: an interactive session)",
    },
    env: { type: "string", short: "e", multiple: true, value: "K=V", help: "set a variable" },
    workdir: { type: "string", short: "w", value: "DIR", help: "working directory" },
    user: { type: "string", short: "u", value: "USER", help: "uid[:gid] or a user name" },
    timeout: { type: "string", value: "S", help: "kill the command after S seconds" },
  },
  arity: [2, Infinity],
  interruptible: true,
  async run(ctx) {
    const [name, ...argv] = ctx.positionals;
    const timeout = intFlag(ctx.values, "timeout", 1, 86_400);
    if (ctx.values.tty === true) {
      if (timeout !== undefined) {
        throw new VolantError("usage", "--timeout does not apply to a terminal session (-t)");
      }
      const { runPtySession } = await import("./pty_session.ts");
      return await runPtySession(ctx, name, {
        argv,
        env: parseEnv(listFlag(ctx.values, "env")),
        cwd: stringFlag(ctx.values, "workdir"),
        user: stringFlag(ctx.values, "user"),
      }, "vms exec -t");
    }
    const body: ExecRequest = {
      argv,
      env: parseEnv(listFlag(ctx.values, "env")),
      cwd: stringFlag(ctx.values, "workdir"),
      user: stringFlag(ctx.values, "user"),
      timeout_ms: timeout === undefined ? undefined : timeout * 1000,
    };
    if (ctx.values.interactive === true) body.stdin = (await readStdin(ctx)).toBase64();
    const decoder = new TextDecoder();
    for await (const frame of ctx.client().exec(name, body, { signal: ctx.signal })) {
      if ("stream" in frame) {
        const bytes = Uint8Array.fromBase64(frame.data);
        if (frame.stream === "stdout") await ctx.io.write(bytes);
        else if (ctx.io.writeErr) await ctx.io.writeErr(bytes);
        else ctx.io.errRaw(decoder.decode(bytes, { stream: true }));
        continue;
      }
      if (frame.timed_out) {
        ctx.io.err(`volar: vms exec: ${argv[0]} killed after --timeout ${timeout} s`);
        return TIMEOUT_EXIT;
      }
      return frame.exit_code;
    }
    throw new VolantError("upstream", `exec: the session with vm ${name} ended without an exit`);
  },
};

export const vmsShell: Command = {
  path: ["vms", "shell"],
  summary: "an interactive shell in a VM (exec -it NAME -- /bin/sh)",
  args: "NAME",
  description: "Runs the shell on a terminal in the guest attached to volar's: raw keys,\n" +
    "Ctrl-C included, go to the guest; the window size follows. The shell's exit code\n" +
    "is volar's; closing volar kills the shell and what it started.",
  example: "volar vms shell web",
  options: {
    env: { type: "string", short: "e", multiple: true, value: "K=V", help: "set a variable" },
    workdir: { type: "string", short: "w", value: "DIR", help: "working directory" },
    user: { type: "string", short: "u", value: "USER", help: "uid[:gid] or a user name" },
    shell: { type: "string", value: "PATH", help: "the shell to run (default /bin/sh)" },
  },
  arity: [1, 1],
  interruptible: true,
  async run(ctx) {
    const { runPtySession } = await import("./pty_session.ts");
    return await runPtySession(ctx, ctx.positionals[0], {
      argv: [stringFlag(ctx.values, "shell") ?? "/bin/sh"],
      env: parseEnv(listFlag(ctx.values, "env")),
      cwd: stringFlag(ctx.values, "workdir"),
      user: stringFlag(ctx.values, "user"),
    }, "vms shell");
  },
};
