/**
 * Plugin registry: install (validate, resolve, download, verify, record),
 * enable/disable, remove, list, get. Nothing is recorded until every artifact
 * is stored and verified; a failed install removes the blobs it created.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type {
  ArtifactRecord,
  InstallPluginBody,
  PluginInstallResult,
  PluginRecord,
} from "../manifest/api.ts";
import { parseManifest } from "../manifest/mod.ts";
import { ArtifactStore } from "./artifact_store.ts";
import { withBootContract } from "./boot_contract.ts";
import type { PluginServiceApi } from "./contracts.ts";
import type { ServiceContext } from "./context.ts";
import { KeyedMutex } from "./locks.ts";
import { collectArtifacts, loadManifest } from "./plugin_source.ts";

/** Minimum gap between two plugin.download events for one artifact. */
const PROGRESS_INTERVAL_MS = 250;

export class PluginService implements PluginServiceApi {
  readonly #ctx: ServiceContext;
  readonly #locks = new KeyedMutex();
  /** Blobs installs in progress rely on (count per path): never garbage. */
  readonly #inflight = new Map<string, number>();
  readonly artifacts: ArtifactStore;

  constructor(ctx: ServiceContext) {
    this.#ctx = ctx;
    this.artifacts = new ArtifactStore(ctx.options.stateDir);
  }

  list(): PluginRecord[] {
    return this.#ctx.store.plugins.list().map(withBootContract);
  }

  get(name: string): PluginRecord {
    const p = this.#ctx.store.plugins.get(name);
    if (!p) throw new VolantError("not_found", `plugin ${name} not found`);
    return withBootContract(p);
  }

  async install(
    body: InstallPluginBody,
    opts: { signal?: AbortSignal } = {},
  ): Promise<PluginInstallResult> {
    const { store, events, now } = this.#ctx;
    const allowUnverified = body.allow_unverified ?? false;
    const loaded = await loadManifest(body, this.#ctx.fetch, opts.signal);
    const prefix = body.manifest !== undefined ? "manifest." : "";
    let manifest;
    try {
      manifest = parseManifest(loaded.raw);
    } catch (error) {
      if (error instanceof VolantError && prefix) {
        const problems = error.problems.map((p) => ({ ...p, field: prefix + p.field }));
        throw new VolantError(error.code, error.message, { problems, cause: error });
      }
      throw error;
    }
    return await this.#locks.run(manifest.name, async () => {
      const existing = store.plugins.get(manifest.name);
      if (existing && existing.version === manifest.version) {
        return { outcome: "unchanged", plugin: withBootContract(existing) };
      }
      const refs = await collectArtifacts(manifest, loaded.origin, allowUnverified);
      const created: string[] = [];
      const artifacts: ArtifactRecord[] = [];
      const held: string[] = [];
      try {
        for (const ref of refs) {
          let lastEmit = 0;
          const blob = await this.artifacts.put(ref.source, {
            expected: ref.expected,
            field: ref.field.replace(/\.(url|source)$/, ""),
            fetch: this.#ctx.fetch,
            signal: opts.signal,
            onProgress: (bytes, total) => {
              const t = Date.now();
              if (t - lastEmit < PROGRESS_INTERVAL_MS && bytes !== total) return;
              lastEmit = t;
              events.publish("plugin.download", "plugin", manifest.name, {
                version: manifest.version,
                artifact: ref.name,
                bytes,
                total,
              });
            },
          });
          this.#inflight.set(blob.path, (this.#inflight.get(blob.path) ?? 0) + 1);
          held.push(blob.path);
          if (blob.created) created.push(blob.path);
          artifacts.push({
            kind: ref.kind,
            name: ref.name,
            url: ref.display,
            sha256: blob.sha256,
            verified: ref.expected !== undefined,
            size: blob.size,
            path: blob.path,
          });
        }
      } catch (error) {
        this.#release(held);
        await this.#dropUnreferenced(created);
        throw error;
      }
      const time = now().toISOString();
      const record: PluginRecord = {
        name: manifest.name,
        version: manifest.version,
        runtime: manifest.runtime ?? manifest.name,
        enabled: manifest.enabled ?? existing?.enabled ?? true,
        allow_unverified: artifacts.some((a) => !a.verified),
        source: loaded.source,
        manifest,
        artifacts,
        installed_at: existing?.installed_at ?? time,
        updated_at: time,
      };
      try {
        store.tx(() => store.plugins.put(record));
      } finally {
        this.#release(held);
      }
      const outcome = existing ? "updated" : "installed";
      events.publish(existing ? "plugin.updated" : "plugin.installed", "plugin", record.name, {
        version: record.version,
        previous_version: existing?.version,
        allow_unverified: record.allow_unverified,
      });
      if (existing) await this.collectGarbage();
      return { outcome, plugin: withBootContract(record) };
    });
  }

  setEnabled(name: string, enabled: boolean): PluginRecord {
    const { store, events, now } = this.#ctx;
    const current = this.get(name);
    if (current.enabled === enabled) return current;
    store.plugins.setEnabled(name, enabled, now().toISOString());
    events.publish(enabled ? "plugin.enabled" : "plugin.disabled", "plugin", name, {
      version: current.version,
    });
    return this.get(name);
  }

  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    const { store, events } = this.#ctx;
    await this.#locks.run(name, async () => {
      const current = this.get(name);
      const users = store.vms.countByPlugin(name);
      if (users > 0 && !opts.force) {
        throw new VolantError(
          "conflict",
          `plugin ${name} is used by ${users} VM(s); delete them first or remove with force`,
          { details: { vms: users } },
        );
      }
      store.tx(() => store.plugins.delete(name));
      events.publish("plugin.removed", "plugin", name, {
        version: current.version,
        forced: users > 0,
        vms: users,
      });
      await this.collectGarbage();
    });
  }

  #release(paths: string[]): void {
    for (const p of paths) {
      const n = (this.#inflight.get(p) ?? 1) - 1;
      if (n <= 0) this.#inflight.delete(p);
      else this.#inflight.set(p, n);
    }
  }

  /** Blobs some plugin, some VM or an install in progress still needs. */
  #referenced(): Set<string> {
    const { store } = this.#ctx;
    return new Set([
      ...store.plugins.referencedArtifacts(),
      ...store.vms.pinnedArtifacts(),
      ...this.#inflight.keys(),
    ]);
  }

  /** Removes blobs of a failed install that no plugin references. */
  async #dropUnreferenced(paths: string[]): Promise<void> {
    const keep = this.#referenced();
    for (const path of paths) {
      if (keep.has(path)) continue;
      await Deno.remove(path).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
    }
  }

  /** Removes blobs no plugin and no VM references (after removals and deletes). */
  async collectGarbage(): Promise<void> {
    const removed = await this.artifacts.collect(this.#referenced());
    if (removed > 0) this.#ctx.log.info("removed unreferenced artifacts", { count: removed });
  }
}
