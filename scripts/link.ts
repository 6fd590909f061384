/**
 * `deno task link <dir> [--binary PATH]`: installs `volant` plus the persona
 * links `volantd`, `volar`, `fledge` into <dir>, so multi-call dispatch works.
 *
 * Without --binary, `volant` is a launcher that runs this checkout from source
 * (`exec -a <invoked name> deno run -A src/main.ts`): no denort needed. With
 * --binary (a `deno compile`d volant), `volant` is a symlink to it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { PERSONAS, REPO } from "./_repo.ts";

const USAGE = "usage: deno task link <dir> [--binary PATH]";

/** The launcher script: keeps the invoked name as argv0 so dispatch sees the persona. */
export function launcherScript(deno: string, mainTs: string): string {
  return [
    "#!/usr/bin/env bash",
    "# Volant multi-call launcher (runs the checkout from source); made by `deno task link`.",
    `exec -a "$(basename "$0")" ${JSON.stringify(deno)} run -A --no-prompt --quiet ${
      JSON.stringify(mainTs)
    } "$@"`,
    "",
  ].join("\n");
}

/** Creates the launcher (or binary link) and persona symlinks in `dir`; returns the paths. */
export async function link(dir: string, binary?: string): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const volant = `${dir}/volant`;
  await Deno.remove(volant).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  if (binary) {
    await Deno.stat(binary);
    await Deno.symlink(resolve(binary), volant);
  } else {
    await Deno.writeTextFile(volant, launcherScript(Deno.execPath(), `${REPO}/src/main.ts`), {
      mode: 0o755,
    });
    await Deno.chmod(volant, 0o755);
  }
  const made = [volant];
  for (const name of PERSONAS) {
    const path = `${dir}/${name}`;
    await Deno.remove(path).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    await Deno.symlink("volant", path);
    made.push(path);
  }
  return made;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { binary: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  if (positionals.length !== 1) {
    console.error(USAGE);
    Deno.exit(2);
  }
  const dir = resolve(positionals[0]);
  for (const path of await link(dir, values.binary)) console.log(path);
  console.error(`link: add ${dir} to PATH, then run: volar --help`);
}
