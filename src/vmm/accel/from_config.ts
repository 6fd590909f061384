/**
 * The one place a configuration becomes an accelerator resolver, used by the
 * daemon, `volar doctor`, the end-to-end test helpers, the benchmarks and the
 * demo, so they all probe the same kernel with the same QEMU and share one
 * cached answer (`<cache_dir>/accel/<key>.json`).
 *
 * @module
 */
import { loadConfig, type ResolvedConfig } from "../../config/mod.ts";
import { type AccelDecision, AccelResolver } from "./resolver.ts";

/** What the resolver needs from the configuration. */
export type AccelConfig = Pick<ResolvedConfig, "accel" | "kernel" | "machine" | "cacheDir">;

/** A resolver for `config` (accel mode, guest kernel, machine, cache dir). */
export function accelResolverFor(
  config: AccelConfig,
  extra: { onCacheError?: (message: string) => void; binary?: string; kvmDevice?: string } = {},
): AccelResolver {
  return new AccelResolver({
    mode: config.accel,
    kernel: config.kernel,
    machine: config.machine,
    cacheDir: `${config.cacheDir}/accel`,
    ...extra,
  });
}

let host: Promise<AccelDecision> | undefined;

/**
 * The decision for this host as volantd would make it from the same config
 * (config file, `VOLANT_*` env such as VOLANT_ACCEL and VOLANT_KERNEL):
 * for code that starts QEMU without a daemon (test helpers, benchmarks,
 * the demo's hand-run baseline). Memoized per process.
 */
export function hostAccel(): Promise<AccelDecision> {
  host ??= loadConfig().then((config) => accelResolverFor(config).decision());
  return host;
}
