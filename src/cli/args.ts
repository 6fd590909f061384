/**
 * Argument handling: global options (valid anywhere on the line), finding
 * the command words among the options, strict per-command parsing with
 * node:util parseArgs, and typed value helpers whose errors name the flag.
 *
 * @module
 */
import { parseArgs } from "node:util";
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

/** Strict parse of `args` against global + command options. */
export function parseCommandArgs(
  args: string[],
  options: Record<string, OptionSpec>,
  commandName: string,
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  const all = { ...GLOBAL_OPTIONS, ...options };
  const config: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> =
    {};
  for (const [name, spec] of Object.entries(all)) {
    config[name] = { type: spec.type };
    if (spec.short) config[name].short = spec.short;
    if (spec.multiple) config[name].multiple = true;
  }
  try {
    const parsed = parseArgs({ args, options: config, strict: true, allowPositionals: true });
    return {
      values: parsed.values as Record<string, string | boolean | string[] | undefined>,
      positionals: parsed.positionals,
    };
  } catch (error) {
    throw usageFromParseArgs(error, commandName);
  }
}

/** A one-line usage error from a parseArgs error (which are long and multi-sentence). */
export function usageFromParseArgs(error: unknown, commandName: string): VolantError {
  const e = error as { code?: string; message?: string };
  const quoted = /'([^']+)'/.exec(e.message ?? "")?.[1] ?? "";
  const see = `(see volar ${commandName} --help)`.replace("volar  ", "volar ");
  let message: string;
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      message = `unknown option ${quoted}`;
      break;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const flag = quoted.split(" ")[0];
      message = /argument missing/.test(e.message ?? "")
        ? `${flag} needs a value`
        : `${flag} does not take a value`;
      break;
    }
    default:
      message = (e.message ?? String(error)).split(". ")[0];
  }
  return new VolantError("usage", `${message} ${see}`, { cause: error });
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
