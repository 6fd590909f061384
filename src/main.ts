/**
 * The one entry point. The persona is the name this program was invoked by
 * (argv[0], which keeps a symlink's name, unlike `Deno.execPath()`), or the
 * first argument when invoked as `volant`.
 *
 * Each persona exports `main(args): Promise<number>`; only this file exits.
 * Start-up is kept to Deno's own: no `node:` built-in here (loading Deno's
 * Node layer costs tens of ms), personas load by dynamic import, and
 * `<persona> --version` answers before any persona loads.
 *
 * @module
 */
import { exitCodeFor, renderCliError } from "./errors.ts";
import { VERSION } from "./version.ts";

type PersonaMain = (args: string[]) => Promise<number>;

/** Personas, loaded lazily so each one pays only for its own imports. */
const PERSONAS: Record<string, { summary: string; load: () => Promise<PersonaMain> }> = {
  volantd: {
    summary: "control plane daemon (state, IPAM, plugins, VMs, REST API)",
    load: async () => (await import("./daemon/main.ts")).main,
  },
  volar: {
    summary: "command-line client (plugins, vms, events, setup)",
    load: async () => (await import("./cli/main.ts")).main,
  },
  fledge: {
    summary: "plugin builder (fledge.toml -> initramfs appliance + manifest)",
    load: async () => (await import("./builder/main.ts")).main,
  },
};

/** Usage text listing the personas. */
export function usage(): string {
  const lines = [
    `volant ${VERSION}: microVM orchestration engine, one binary with several personas`,
    "",
    "Usage: volant <persona> [args...]   or invoke through a symlink named after the persona",
    "",
    "Personas:",
  ];
  for (const [name, p] of Object.entries(PERSONAS)) lines.push(`  ${name.padEnd(8)} ${p.summary}`);
  lines.push("", "Run `volant <persona> --help` for a persona's commands.");
  return lines.join("\n");
}

/** Picks the persona from the invoked name and arguments; returns the exit code. */
export async function dispatch(invokedAs: string, args: string[]): Promise<number> {
  let name = invokedAs.slice(invokedAs.lastIndexOf("/") + 1).replace(/\.(ts|js)$/, "");
  let rest = args;
  if (!(name in PERSONAS)) {
    // `volant <persona>`, `deno run src/main.ts <persona>` or an unknown link name.
    const first = args[0];
    if (first === "--version" || first === "-V") {
      console.log(`volant ${VERSION}`);
      return 0;
    }
    if (first === "--help" || first === "-h" || first === "help") {
      console.log(usage());
      return 0;
    }
    if (first === undefined || !(first in PERSONAS)) {
      if (first !== undefined) console.error(`volant: unknown persona '${first}'`);
      console.error(usage());
      return 2;
    }
    name = first;
    rest = args.slice(1);
  }
  // `<persona> --version` alone answers here, before the persona's modules load: the
  // common "is it installed?" call stays at Deno's start-up cost (bench/release_bench.ts).
  if (rest.length === 1 && (rest[0] === "--version" || rest[0] === "-V")) {
    console.log(`${name} ${VERSION}`);
    return 0;
  }
  try {
    const main = await PERSONAS[name].load();
    return await main(rest);
  } catch (error) {
    console.error(renderCliError(name, error));
    return exitCodeFor(error);
  }
}

/**
 * argv[0] as exec'd: the first field of /proc/self/cmdline (what node:process's argv0
 * reports, without loading the Node layer); node:process where /proc cannot be read.
 */
export async function invokedName(): Promise<string> {
  try {
    const cmdline = Deno.readTextFileSync("/proc/self/cmdline");
    return cmdline.slice(0, Math.max(0, cmdline.indexOf("\0")));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotCapable)) {
      throw error;
    }
    return (await import("node:process")).default.argv0;
  }
}

if (import.meta.main) {
  // Under `deno run`, argv0 is "deno": dispatch falls back to the first argument.
  const code = await dispatch(await invokedName(), Deno.args);
  Deno.exit(code);
}
