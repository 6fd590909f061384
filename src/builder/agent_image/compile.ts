/**
 * `deno compile` of the bundle into one bin/kestrel, when denort can be had;
 * otherwise the image ships deno + the bundle and the log says why.
 *
 * @module
 */
import { join } from "node:path";
import type { AgentBuildOptions } from "./options.ts";
import { AgentBuildError, run } from "./run.ts";

/** Replaces deno + kestrel.js by a `deno compile`d bin/kestrel when denort is available. */
export async function tryCompile(o: AgentBuildOptions, tree: string): Promise<void> {
  const log = o.log ?? ((l: string) => console.error(l));
  const out = join(tree, "bin", "kestrel");
  try {
    await run(Deno.execPath(), [
      "compile",
      "-A",
      "--no-config",
      "--no-lock",
      "-o",
      out,
      join(tree, "kestrel.js"),
    ]);
  } catch (e) {
    if (!(e instanceof AgentBuildError)) throw e;
    log(`agent: deno compile unavailable (${e.message.slice(-160)}); shipping deno + bundle`);
    return;
  }
  await Deno.remove(join(tree, "bin", "deno"));
  await Deno.remove(join(tree, "kestrel.js"));
  log("agent: kestrel compiled with deno compile");
}
