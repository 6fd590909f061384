/**
 * The `volantd` persona: parses flags (config keys, --config, --help,
 * --version), resolves the configuration, starts the daemon and runs until
 * SIGINT/SIGTERM. Shutdown closes the listeners and the store but never
 * stops VMs: they outlive the daemon and are adopted at the next start.
 *
 * @module
 */
import { loadConfig } from "../config/mod.ts";
import { createLogger } from "../log/mod.ts";
import { VERSION } from "../version.ts";
import { startDaemon } from "./daemon.ts";
import { daemonUsage, parseDaemonArgs } from "./flags.ts";

/** Entry point of the `volantd` persona; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const parsed = parseDaemonArgs(args);
  if (parsed.help) {
    console.log(daemonUsage());
    return 0;
  }
  if (parsed.version) {
    console.log(`volantd ${VERSION}`);
    return 0;
  }
  const config = await loadConfig({ flags: parsed.flags, configPath: parsed.configPath });
  const log = createLogger({
    level: config.logLevel,
    format: "json",
    fields: { subsystem: "volantd" },
  });
  if (config.configFile) log.info("config file read", { path: config.configFile });

  const stop = Promise.withResolvers<string>();
  const onSignal = (name: string) => () => stop.resolve(name);
  const handlers = [["SIGINT", onSignal("SIGINT")], ["SIGTERM", onSignal("SIGTERM")]] as const;
  for (const [sig, fn] of handlers) Deno.addSignalListener(sig, fn);
  try {
    const daemon = await startDaemon(config, { noHostNetwork: parsed.noHostNetwork, log });
    const signal = await stop.promise;
    log.info("shutting down (VMs keep running)", { signal });
    await daemon.close();
    log.info("stopped");
    return 0;
  } finally {
    for (const [sig, fn] of handlers) Deno.removeSignalListener(sig, fn);
  }
}
