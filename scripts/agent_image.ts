/**
 * `deno task agent`: builds what carries kestrel into every guest
 * (`agent.img`, `boot.cpio.gz`, `shim`; docs/guest.md). The build itself is
 * src/builder/agent_image/; this is its command line.
 *
 * Usage: deno run -A scripts/agent_image.ts [--entry agent/main.ts | --bundle kestrel.js |
 *        --compiled kestrel] [--compile] [--cache-dir DIR] [--no-current] [--force]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { AgentBuildError, buildAgentArtifacts } from "../src/builder/agent_image/mod.ts";
import { REPO } from "../src/builder/agent_image/run.ts";

export {
  type AgentArtifacts,
  AgentBuildError,
  type AgentBuildOptions,
  bootEntries,
  bootInitramfs,
  buildAgentArtifacts,
  denoLibraries,
  KESTREL_V8_FLAGS,
  type KestrelSource,
} from "../src/builder/agent_image/mod.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      entry: { type: "string" },
      bundle: { type: "string" },
      compiled: { type: "string" },
      "cache-dir": { type: "string" },
      "no-current": { type: "boolean" },
      force: { type: "boolean" },
      compile: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno task agent [--entry agent/main.ts | --bundle FILE | --compiled FILE] " +
        "[--compile] [--cache-dir DIR] [--no-current] [--force]",
    );
    Deno.exit(0);
  }
  const chosen = (["entry", "bundle", "compiled"] as const).filter((k) => values[k]);
  if (chosen.length > 1) {
    console.error("agent_image: give only one of --entry, --bundle, --compiled");
    Deno.exit(2);
  }
  const kind = chosen[0] ?? "entry";
  const kestrel = { kind, path: resolve(values[kind] ?? join(REPO, "agent", "main.ts")) };
  try {
    const a = await buildAgentArtifacts({
      kestrel,
      cacheDir: values["cache-dir"] ?? Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant",
      setCurrent: !values["no-current"],
      force: values.force,
      compile: values.compile,
    });
    console.log(`agent_image=${a.agentImage}`);
    console.log(`boot_initramfs=${a.bootInitramfs}`);
    console.log(`shim=${a.shim}`);
  } catch (e) {
    if (!(e instanceof AgentBuildError)) throw e;
    console.error(`agent_image: ${e.message}`);
    Deno.exit(1);
  }
}
