/**
 * Plugin registry service (work in progress: signatures first).
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { InstallPluginBody, PluginInstallResult, PluginRecord } from "../manifest/api.ts";
import type { PluginServiceApi } from "./contracts.ts";
import type { ServiceContext } from "./context.ts";

export class PluginService implements PluginServiceApi {
  readonly #ctx: ServiceContext;
  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
  }
  list(): PluginRecord[] {
    return this.#ctx.store.plugins.list();
  }
  get(name: string): PluginRecord {
    const p = this.#ctx.store.plugins.get(name);
    if (!p) throw new VolantError("not_found", `plugin ${name} not found`);
    return p;
  }
  install(
    _body: InstallPluginBody,
    _opts?: { signal?: AbortSignal },
  ): Promise<PluginInstallResult> {
    return Promise.reject(
      new VolantError("not_implemented", "plugin install is not implemented yet"),
    );
  }
  setEnabled(_name: string, _enabled: boolean): PluginRecord {
    throw new VolantError("not_implemented", "plugin enable is not implemented yet");
  }
  remove(_name: string, _opts?: { force?: boolean }): Promise<void> {
    return Promise.reject(
      new VolantError("not_implemented", "plugin remove is not implemented yet"),
    );
  }
}
