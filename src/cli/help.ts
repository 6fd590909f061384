/**
 * Help texts, generated from the command table so they cannot drift:
 * top level, per group (`volar vms --help`) and per command.
 *
 * @module
 */
import { VERSION } from "../version.ts";
import { GLOBAL_OPTIONS } from "./args.ts";
import type { Command, OptionSpec } from "./command.ts";

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : "    "}--${name}${o.value ? ` ${o.value}` : ""}`;
    return [flag, o.help] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length));
  return rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`);
}

function commandLine(c: Command): string {
  return `volar ${c.path.join(" ")}${c.args ? ` ${c.args}` : ""}`;
}

function listing(commands: Command[]): string[] {
  const rows = commands.map((c) => [`${c.path.join(" ")}${c.args ? ` ${c.args}` : ""}`, c.summary]);
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, s]) => `  ${l.padEnd(width)}  ${s}`);
}

/** `volar --help`. */
export function topHelp(commands: Command[]): string {
  return [
    `volar ${VERSION}: the Volant command-line client (talks to volantd over HTTP)`,
    "",
    "Usage: volar <command> [options]   (every command takes --help)",
    "",
    "Commands:",
    ...listing(commands),
    "",
    "Global options:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "Errors are one line on stderr; exit codes: 0 ok, 2 invalid input/usage, 3 not found,",
    "4 conflict, 5 unauthorized, 6 checksum mismatch, 7 upstream, 8 volantd unavailable,",
    "9 not implemented, 1 internal. Docs: docs/cli.md",
  ].join("\n");
}

/** `volar vms --help`, `volar vms config --help`. */
export function groupHelp(prefix: string[], commands: Command[]): string {
  const inGroup = commands.filter((c) => prefix.every((p, i) => c.path[i] === p));
  return [
    `Usage: volar ${prefix.join(" ")} <command> [options]`,
    "",
    "Commands:",
    ...listing(inGroup),
    "",
    `Run \`volar ${prefix.join(" ")} <command> --help\` for a command's options.`,
  ].join("\n");
}

/** `volar vms create --help`. */
export function commandHelp(c: Command): string {
  const lines = [`Usage: ${commandLine(c)}${Object.keys(c.options).length ? " [options]" : ""}`];
  lines.push("", c.summary.charAt(0).toUpperCase() + c.summary.slice(1) + ".");
  if (c.description) lines.push("", c.description);
  if (Object.keys(c.options).length > 0) lines.push("", "Options:", ...optionLines(c.options));
  lines.push("", "Global options:", ...optionLines(GLOBAL_OPTIONS));
  lines.push("", "Example:", `  ${c.example}`);
  return lines.join("\n");
}
