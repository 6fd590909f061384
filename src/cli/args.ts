/**
 * Argument handling: global options (valid anywhere on the line), finding
 * the command words among the options, strict per-command parsing (our own
 * parser: node:util would load Deno's Node layer at every start), and typed
 * value helpers whose errors name the flag.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { OptionSpec, OutputFormat } from "./command.ts";

/** Options every command accepts. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  socket: {
    type: "string",
    value: "PATH",
    help: "volantd unix socket (env VOLANT_SOCKET, default /run/volant/volantd.sock)",
  },
  api: {
    type: "string",
    value: "URL",
    help: "volantd TCP base URL instead of the socket (env VOLANT_API)",
  },
  token: { type: "string", value: "TOKEN", help: "bearer token for --api (env VOLANT_TOKEN)" },
  output: { type: "string", short: "o", value: "FORMAT", help: "table (default) or json" },
  help: { type: "boolean", short: "h", help: "show help" },
  version: { type: "boolean", short: "V", help: "print the version" },
};

/** Flags (long and short) of `options` that take a value. */
function valueFlags(options: Record<string, OptionSpec>): Set<string> {
  const out = new Set<string>();
  for (const [name, spec] of Object.entries(options)) {
    if (spec.type !== "string") continue;
    out.add(`--${name}`);
    if (spec.short) out.add(`-${spec.short}`);
  }
  return out;
}

/**
 * Splits argv into the leading command words (up to `maxWords`, each passing
 * `isWord`) and the rest, skipping global options and their values on the way.
 * Returns the indices of the words so they can be removed before parsing.
 */
export function findCommandWords(
  args: string[],
  isWord: (words: string[], next: string) => boolean,
): { words: string[]; rest: string[] } {
  const takesValue = valueFlags(GLOBAL_OPTIONS);
  const words: string[] = [];
  const rest: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === "--") break;
    if (a.startsWith("-") && a !== "-") {
      rest.push(a);
      if (takesValue.has(a) && i + 1 < args.length) rest.push(args[++i]);
      continue;
    }
    if (!isWord(words, a)) break;
    words.push(a);
  }
  rest.push(...args.slice(i));
  return { words, rest };
}

/** Parsed option values (null prototype, as node:util parseArgs returns) and positionals. */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** A parse problem; its message is the first part of the usage line. */
class ArgError extends Error {}

/**
 * The strict parse node:util parseArgs does (`strict: true, allowPositionals:
 * true`), without loading Deno's Node layer (tens of ms at every start):
 * `--name value`, `--name=value`, `-o value`, `-ovalue`, boolean groups
 * (`-hV`), `--` ends options, repeated flags collect when `multiple` and the
 * last one wins otherwise. A value that looks like an option (`--cpu -1`) must
 * be written inline (`--cpu=-1`), as parseArgs requires.
 */
export function parseStrict(args: string[], options: Record<string, OptionSpec>): ParsedArgs {
  const values: ParsedArgs["values"] = Object.create(null);
  const positionals: string[] = [];
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) {
    if (spec.short) byShort.set(spec.short, name);
  }
  const store = (name: string, value: string | boolean) => {
    if (options[name].multiple) {
      const list = (values[name] ?? []) as (string | boolean)[];
      list.push(value);
      values[name] = list as string[];
    } else values[name] = value;
  };
  /** The separate value of string flag `flag` at args[i + 1]. */
  const valueAfter = (i: number, flag: string): string => {
    const next = args[i + 1];
    if (next === undefined) throw new ArgError(`${flag} needs a value`);
    if (next.length > 1 && next.startsWith("-")) {
      throw new ArgError(
        `${flag} needs a value (write ${flag}=${next} for one that starts with '-')`,
      );
    }
    return next;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      if (!Object.hasOwn(options, name)) throw new ArgError(`unknown option --${name}`);
      if (options[name].type === "boolean") {
        if (eq !== -1) throw new ArgError(`--${name} does not take a value`);
        store(name, true);
      } else if (eq !== -1) {
        store(name, arg.slice(eq + 1));
      } else {
        store(name, valueAfter(i, `--${name}`));
        i++;
      }
      continue;
    }
    if (arg.length < 2 || !arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    // One short flag or a group of them; a string flag takes the rest of the group or the next arg.
    for (let j = 1; j < arg.length; j++) {
      const name = byShort.get(arg[j]);
      if (name === undefined) throw new ArgError(`unknown option -${arg[j]}`);
      if (options[name].type === "boolean") {
        store(name, true);
        continue;
      }
      if (j + 1 < arg.length) store(name, arg.slice(j + 1));
      else {
        store(name, valueAfter(i, `-${arg[j]}`));
        i++;
      }
      break;
    }
  }
  return { values, positionals };
}

/** Strict parse of `args` against global + command options; problems are one-line usage errors. */
export function parseCommandArgs(
  args: string[],
  options: Record<string, OptionSpec>,
  commandName: string,
): ParsedArgs {
  try {
    return parseStrict(args, { ...GLOBAL_OPTIONS, ...options });
  } catch (error) {
    if (!(error instanceof ArgError)) throw error;
    const see = `(see volar ${commandName} --help)`.replace("volar  ", "volar ");
    throw new VolantError("usage", `${error.message} ${see}`, { cause: error });
  }
}

/** The output format from `-o`, validated. */
export function outputFormat(value: unknown): OutputFormat {
  if (value === undefined || value === "table") return "table";
  if (value === "json") return "json";
  throw new VolantError("usage", `-o/--output must be table or json, got '${String(value)}'`);
}

/** An integer flag value in [min, max], or undefined when absent. */
export function intFlag(
  values: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const s = String(raw);
  if (!/^-?\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new VolantError(
      "usage",
      `--${name} must be an integer from ${min} to ${max}, got '${s}'`,
      {
        problems: [{
          field: `--${name}`,
          message: `must be an integer from ${min} to ${max}, got '${s}'`,
        }],
      },
    );
  }
  return Number(s);
}

/** A flag restricted to `choices`, or undefined when absent. */
export function choiceFlag<T extends string>(
  values: Record<string, unknown>,
  name: string,
  choices: readonly T[],
): T | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (!(choices as readonly string[]).includes(String(raw))) {
    const message = `must be one of ${choices.join(", ")}, got '${String(raw)}'`;
    throw new VolantError("usage", `--${name} ${message}`, {
      problems: [{ field: `--${name}`, message }],
    });
  }
  return raw as T;
}

/** A string flag (the last one when repeated), or undefined. */
export function stringFlag(values: Record<string, unknown>, name: string): string | undefined {
  const v = values[name];
  if (Array.isArray(v)) return v.at(-1) as string | undefined;
  return typeof v === "string" ? v : undefined;
}

/** A repeatable flag whose values may also be comma-separated. */
export function listFlag(values: Record<string, unknown>, name: string): string[] {
  const v = values[name];
  const items = Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
  return items.flatMap((s) => String(s).split(",")).map((s) => s.trim()).filter((s) => s !== "");
}
