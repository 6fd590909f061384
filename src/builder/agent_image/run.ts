/**
 * Running the build's tools (ldd, deno, make, mke2fs, debugfs): one helper
 * that names the command and its last lines of stderr when it fails.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root: deno info/bundle run here so they find deno.json and deno.lock. */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** A build step failed; the message names the step and the command. */
export class AgentBuildError extends Error {
  override name = "AgentBuildError";
}

/** Runs `cmd` in the repo and returns its stdout; throws AgentBuildError on failure. */
export async function run(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  })
    .output()
    .catch((e) => {
      throw new AgentBuildError(`cannot run ${cmd}: ${e instanceof Error ? e.message : e}`);
    });
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join(" | ");
    throw new AgentBuildError(`${cmd} ${args.join(" ")} failed (rc ${out.code}): ${err}`);
  }
  return new TextDecoder().decode(out.stdout);
}
