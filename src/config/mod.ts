/**
 * volantd's configuration: defaults in one file; flags > `VOLANT_*` env >
 * config file > defaults, resolved once into a typed {@linkcode ResolvedConfig}.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./mod.ts";
 * const config = await loadConfig({ flags: { state_dir: "/tmp/v" } });
 * console.log(config.socket, config.sources.socket); // "/run/volant/volantd.sock" "default"
 * ```
 *
 * @module
 */
export * from "./defaults.ts";
export * from "./resolve.ts";
export { KEY_SCHEMAS } from "./schema.ts";
