/** Paths shared by the build scripts. */
import { fileURLToPath } from "node:url";

/** Absolute path of the repository root. */
export const REPO = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

/** The personas a link or binary answers to. */
export const PERSONAS = ["volantd", "volar", "fledge"] as const;

/** Runs a command, inheriting stdio; throws naming the command on failure. */
export async function run(cmd: string, args: string[], env?: Record<string, string>) {
  const status = await new Deno.Command(cmd, { args, env, stdout: "inherit", stderr: "inherit" })
    .output();
  if (!status.success) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${status.code})`);
}
