/**
 * What a volar command is: its path (`vms config set`), help text, options
 * (parseArgs-style descriptors plus help), positional arity, and the
 * function that runs it with a context.
 *
 * @module
 */
import type { ConnectionOptions, VolantClient } from "../client/mod.ts";
import type { Io } from "./io.ts";

/** One option (the node:util parseArgs shape; src/cli/args.ts parses it) plus its help line. */
export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  /** Shown after the flag in help, e.g. `N` in `--cpu N`. */
  value?: string;
  help: string;
}

/** Output format chosen with `-o`. */
export type OutputFormat = "table" | "json";

/** Everything a command gets. */
export interface CommandContext {
  /** Parsed option values (global and the command's own). */
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  output: OutputFormat;
  io: Io;
  /** Where the daemon is (flags > env > defaults), for commands with their own transport. */
  connection: ConnectionOptions;
  /** The client, created on first use (commands that need no daemon never connect). */
  client(): VolantClient;
  /** Aborted on SIGINT/SIGTERM (follow modes end cleanly). */
  signal: AbortSignal;
}

/** A leaf command. */
export interface Command {
  path: string[];
  summary: string;
  /** Positional part of the usage line, e.g. `NAME`. */
  args: string;
  /** Longer help shown by `--help`. */
  description?: string;
  /** An example command line (also in docs/cli.md). */
  example: string;
  options: Record<string, OptionSpec>;
  /**
   * True for long-running commands (follow, console, install) that end
   * cleanly on SIGINT/SIGTERM/SIGHUP through `ctx.signal`; others keep the
   * default signal behaviour.
   */
  interruptible?: boolean;
  /** Minimum and maximum number of positionals. */
  arity: [number, number];
  run(ctx: CommandContext): Promise<number>;
}
