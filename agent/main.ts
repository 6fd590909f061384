/**
 * kestrel's entry point (bundled with `deno bundle agent/main.ts` and run by
 * the shim as PID 1 with `deno run -A`).
 *
 * As PID 1 it reads /proc/cmdline. Otherwise ("host mode", for tests and the
 * benchmark) it takes the command line from `--cmdline <text>` or the
 * `KESTREL_CMDLINE` environment variable and never mounts, configures the
 * network or reboots. Host-mode flags: `--port <n>` (default 8080),
 * `--host <addr>` (default 0.0.0.0), `--subreaper`, `--stop-timeout-ms <n>`.
 *
 * @module
 */
import { stderrConsole } from "./console.ts";
import { Kestrel } from "./kestrel.ts";
import { parseHandoff, SHIM_ENV } from "./adopt.ts";
import { warmUp } from "./warm_up.ts";

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Starts kestrel for this process; resolves once the boot sequence has run. */
export async function main(args: string[]): Promise<Kestrel> {
  const pid1 = Deno.pid === 1;
  const cmdline = pid1
    ? Deno.readTextFileSync("/proc/cmdline")
    : flag(args, "--cmdline") ?? Deno.env.get("KESTREL_CMDLINE") ?? "";
  // Only PID 1 inherits the shim's children; the variable must not reach the workload's restarts.
  const handoff = pid1 ? parseHandoff(Deno.env.get(SHIM_ENV)) : null;
  if (pid1) Deno.env.delete(SHIM_ENV);
  const port = flag(args, "--port");
  const stop = flag(args, "--stop-timeout-ms");
  const kestrel = new Kestrel({
    cmdline,
    pid1,
    console: stderrConsole,
    apiHost: pid1 ? "0.0.0.0" : flag(args, "--host"),
    apiPort: pid1 || port === undefined ? 8080 : Number(port),
    subreaper: args.includes("--subreaper"),
    stopTimeoutMs: stop === undefined ? undefined : Number(stop),
    handoff,
  });
  // Anything that escapes the boot sequence is fatal, never a silent hang or a crash loop.
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    void kestrel.fatal(e.reason);
  });
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    void kestrel.fatal(e.error ?? e.message);
  });
  await kestrel.boot();
  return kestrel;
}

if (import.meta.main) {
  // The image build's warm-up run (never in a guest): load what every boot loads, then stop.
  if (Deno.pid !== 1 && Deno.env.get("KESTREL_WARM_UP") === "1") await warmUp();
  else await main(Deno.args);
}
