/**
 * The `volar` persona. Placeholder until its issue lands: answers --help and --version.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { VERSION } from "../version.ts";

/** Entry point of the `volar` persona; returns the exit code. */
export function main(args: string[]): Promise<number> {
  if (args[0] === "--version" || args[0] === "-V") {
    console.log(`volar ${VERSION}`);
    return Promise.resolve(0);
  }
  if (args[0] === "--help" || args[0] === "-h" || args.length === 0) {
    console.log("Usage: volar [--help] [--version]");
    return Promise.resolve(0);
  }
  throw new VolantError("usage", `unknown command '${args[0]}' (see volar --help)`);
}
