/**
 * The `volar` persona: finds the command among the arguments, parses its
 * options strictly, resolves the connection (flags > VOLANT_* env >
 * defaults), runs it, and renders any error as one line (one per field
 * problem) with the exit code from src/errors.ts.
 *
 * @module
 */
import { createClient, type VolantClient } from "../client/mod.ts";
import { exitCodeFor, renderCliError, VolantError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { findCommandWords, outputFormat, parseCommandArgs, stringFlag } from "./args.ts";
import { version, vmsGet } from "./cmd_aliases.ts";
import { events } from "./cmd_events.ts";
import { pluginsInstall } from "./cmd_install.ts";
import { keysAdd, keysList, keysRemove, keysShow } from "./cmd_keys.ts";
import { vmsLogs } from "./cmd_logs.ts";
import { pluginsAction, vmsAction, vmsOpenapi } from "./cmd_actions.ts";
import { vmsConsole } from "./cmd_console.ts";
import { vmsExec, vmsShell } from "./cmd_vms_exec.ts";
import { vmsCp } from "./cmd_vms_cp.ts";
import { mcpServe } from "./cmd_mcp.ts";
import {
  pluginsDisable,
  pluginsEnable,
  pluginsList,
  pluginsRemove,
  pluginsShow,
} from "./cmd_plugins.ts";
import { systemInfo } from "./cmd_system.ts";
import { doctor } from "./cmd_doctor.ts";
import { setup } from "./cmd_setup.ts";
import { pluginsValidate } from "./cmd_validate.ts";
import { vmsConfigGet, vmsConfigHistory, vmsConfigSet } from "./cmd_vm_config.ts";
import {
  vmsCreate,
  vmsDelete,
  vmsList,
  vmsRestart,
  vmsShow,
  vmsStart,
  vmsStop,
} from "./cmd_vms.ts";
import type { Command } from "./command.ts";
import { DEPLOYMENT_COMMANDS } from "./cmd_deployments.ts";
import { SNAPSHOT_COMMANDS } from "./cmd_snapshots.ts";
import { commandHelp, groupHelp, topHelp } from "./help.ts";
import { type Io, processIo } from "./io.ts";

/** Every command, in help order. */
export const COMMANDS: Command[] = [
  pluginsList,
  pluginsShow,
  pluginsInstall,
  pluginsValidate,
  pluginsEnable,
  pluginsDisable,
  pluginsRemove,
  pluginsAction,
  vmsList,
  vmsShow,
  vmsGet,
  vmsCreate,
  vmsStart,
  vmsStop,
  vmsRestart,
  vmsDelete,
  vmsConfigGet,
  vmsConfigSet,
  vmsConfigHistory,
  vmsLogs,
  vmsConsole,
  vmsExec,
  vmsShell,
  vmsCp,
  vmsAction,
  vmsOpenapi,
  ...SNAPSHOT_COMMANDS,
  ...DEPLOYMENT_COMMANDS,
  events,
  systemInfo,
  keysList,
  keysShow,
  keysAdd,
  keysRemove,
  doctor,
  mcpServe,
  version,
  setup,
];

function isPrefix(words: string[]): boolean {
  return COMMANDS.some((c) => words.every((w, i) => c.path[i] === w));
}

function usage(message: string): VolantError {
  return new VolantError("usage", message);
}

/** Connection settings: flags first, then VOLANT_API / VOLANT_SOCKET / VOLANT_TOKEN. */
export function connectionFrom(
  values: Record<string, unknown>,
  env: (name: string) => string | undefined,
): { socket?: string; api?: string; token?: string } {
  const flagSocket = stringFlag(values, "socket");
  const flagApi = stringFlag(values, "api");
  const token = stringFlag(values, "token") ?? env("VOLANT_TOKEN");
  if (flagApi !== undefined && flagSocket !== undefined) {
    throw usage("give --socket or --api, not both");
  }
  if (flagApi !== undefined) return { api: flagApi, token };
  if (flagSocket !== undefined) return { socket: flagSocket, token };
  const envApi = env("VOLANT_API");
  if (envApi) return { api: envApi, token };
  return { socket: env("VOLANT_SOCKET") || undefined, token };
}

/** Runs volar with `args`; returns the exit code (errors already printed). */
export async function run(args: string[], io: Io): Promise<number> {
  try {
    return await dispatch(args, io);
  } catch (error) {
    // stdout closed by the reader (`volar vms logs web | head`): nothing left to say.
    if (error instanceof Deno.errors.BrokenPipe) return 0;
    io.err(renderCliError("volar", error));
    return exitCodeFor(error);
  }
}

async function dispatch(argv: string[], io: Io): Promise<number> {
  let args = argv;
  let forceHelp = false;
  if (args[0] === "help") {
    forceHelp = true;
    args = args.slice(1);
  }
  const { words, rest } = findCommandWords(args, (ws, next) => isPrefix([...ws, next]));
  const command = COMMANDS.find((c) =>
    c.path.length === words.length && c.path.every((p, i) => p === words[i])
  );
  if (!command) return groupOrTop(words, rest, io, forceHelp);

  const name = command.path.join(" ");
  const { values, positionals } = parseCommandArgs(rest, command.options, name);
  if (values.help === true || forceHelp) {
    io.out(commandHelp(command));
    return 0;
  }
  if (values.version === true) {
    io.out(`volar ${VERSION}`);
    return 0;
  }
  const output = outputFormat(values.output);
  const [min, max] = command.arity;
  if (positionals.length < min) {
    throw usage(`volar ${name} needs ${command.args} (see volar ${name} --help)`);
  }
  if (positionals.length > max) {
    throw usage(`unexpected argument '${positionals[max]}' (see volar ${name} --help)`);
  }
  const connection = connectionFrom(values, io.env);
  let client: VolantClient | undefined;
  const abort = new AbortController();
  const signals: Deno.Signal[] = command.interruptible ? ["SIGINT", "SIGTERM", "SIGHUP"] : [];
  const onSignal = () => abort.abort();
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    return await command.run({
      values,
      positionals,
      output,
      io,
      signal: abort.signal,
      connection,
      client: () => client ??= createClient(connection),
    });
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    client?.close();
  }
}

/** No complete command: top-level flags, group help, or an unknown word. */
function groupOrTop(words: string[], rest: string[], io: Io, forceHelp: boolean): number {
  const help = forceHelp || rest.includes("--help") || rest.includes("-h");
  const stray = rest.find((a) => !a.startsWith("-"));
  if (words.length === 0) {
    if (!help && (rest.includes("--version") || rest.includes("-V"))) {
      io.out(`volar ${VERSION}`);
      return 0;
    }
    if (stray !== undefined && !help) {
      throw usage(`unknown command '${stray}' (see volar --help)`);
    }
    if (stray === undefined && rest.length > 0 && !help) {
      throw usage(`unknown option '${rest[0]}' (see volar --help)`);
    }
    io.out(topHelp(COMMANDS));
    return 0;
  }
  const group = words.join(" ");
  if (stray !== undefined && !help) {
    throw usage(`unknown command 'volar ${group} ${stray}' (see volar ${group} --help)`);
  }
  if (help) {
    io.out(groupHelp(words, COMMANDS));
    return 0;
  }
  io.err(groupHelp(words, COMMANDS));
  throw usage(`volar ${group} needs a command`);
}

/** Entry point of the `volar` persona; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return run(args, processIo());
}
