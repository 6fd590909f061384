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
import { parseManifest, type PluginManifest } from "../manifest/mod.ts";
import type { ArtifactBlobs } from "./artifact_store.ts";
import { withBootContract } from "./boot_contract.ts";
import type { PluginServiceApi } from "./contracts.ts";
import type { ServiceContext } from "./context.ts";
import { KeyedMutex } from "./locks.ts";
import { guardedFetch } from "./guarded_fetch.ts";
import {
  collectArtifacts,
  type LoadedManifest,
  loadManifest,
  resolveReference,
} from "./plugin_source.ts";
import { inlineDocPaths, MAX_DOC_BYTES } from "./cloud_init.ts";
import { compatWarnings } from "./manifest_warnings.ts";
import { checkSignature } from "./signatures.ts";
import type { TrustedKeyStore } from "./trusted_keys.ts";
import type { PluginSignature } from "../manifest/signing.ts";

/** A document that is at least trying to be a manifest (its problems are worth naming). */
function looksLikeManifest(raw: unknown): boolean {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return false;
  const doc = raw as Record<string, unknown>;
  return typeof doc.name === "string" &&
    ["schema_version", "version", "runtime", "initramfs", "rootfs", "workload"].some((k) =>
      k in doc
    );
}

/** Minimum gap between two plugin.download events for one artifact. */
const PROGRESS_INTERVAL_MS = 250;

export class PluginService implements PluginServiceApi {
  readonly #ctx: ServiceContext;
  readonly #locks = new KeyedMutex();
  /** Blobs installs in progress rely on (count per path): never garbage. */
  readonly #inflight = new Map<string, number>();
  /** Installs in progress, by plugin name, so a remove can cancel them. */
  readonly #installing = new Map<string, AbortController>();
  readonly #artifacts: ArtifactBlobs;
  readonly #keys: TrustedKeyStore;

  constructor(ctx: ServiceContext, keys: TrustedKeyStore, artifacts: ArtifactBlobs) {
    this.#ctx = ctx;
    this.#keys = keys;
    this.#artifacts = artifacts;
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
    if (body.image !== undefined) return await this.#installImage(body, opts.signal);
    return await this.#install(body, opts);
  }

  /**
   * `image`: the converter pulls and converts (content-addressed by image
   * digest, so plugins of one image share one rootfs blob), writes a manifest
   * file beside the rootfs, and the ordinary file install takes it from there
   * (signature rules included: with require_signatures an image install is refused).
   */
  async #installImage(body: InstallPluginBody, signal?: AbortSignal) {
    const images = this.#ctx.images;
    if (images === undefined) {
      throw new VolantError("unavailable", "image: this daemon has no image converter configured");
    }
    const resource = body.name ?? imageResourceName(body.image!);
    let lastEmit = 0;
    const converted = await images.convert({
      image: body.image!,
      name: body.name,
      port: body.port,
      platform: body.platform,
      insecureRegistry: body.insecure_registry,
      signal,
      onProgress: (blob, bytes, total) => {
        const t = Date.now();
        if (t - lastEmit < PROGRESS_INTERVAL_MS && bytes !== total) return;
        lastEmit = t;
        this.#ctx.events.publish("plugin.download", "plugin", resource, {
          artifact: `layer ${blob.slice(7, 19)}`,
          bytes,
          total,
        });
      },
    });
    try {
      return await this.#install(
        { path: converted.manifestPath, allow_unverified: false },
        { signal },
        `image:${body.image}@${converted.digest}`,
      );
    } finally {
      await converted.dispose();
    }
  }

  async #install(
    body: InstallPluginBody,
    opts: { signal?: AbortSignal },
    source?: string,
  ): Promise<PluginInstallResult> {
    const { store } = this.#ctx;
    const allowUnverified = body.allow_unverified ?? false;
    // A body manifest names its downloads sight unseen: it gets the strict
    // policy. A manifest the caller pointed at (URL or file) may reach the
    // private networks it came from.
    const download = this.#downloader(body.manifest === undefined, opts.signal);
    const loaded = await loadManifest(body, download);
    if (source !== undefined) loaded.source = source;
    const prefix = body.manifest !== undefined ? "manifest." : "";
    let manifest;
    try {
      manifest = parseManifest(loaded.raw);
    } catch (error) {
      if (loaded.origin.kind === "http" && !looksLikeManifest(loaded.raw)) {
        // Echoing the keys of an arbitrary fetched document would make the
        // daemon a reader of internal services: say only what it is not.
        throw new VolantError(
          "invalid_input",
          `url: ${loaded.source} is not a Volant plugin manifest`,
          {
            problems: [{ field: "url", message: "the document is not a Volant plugin manifest" }],
          },
        );
      }
      if (error instanceof VolantError && prefix) {
        const problems = error.problems.map((p) => ({ ...p, field: prefix + p.field }));
        throw new VolantError(error.code, error.message, { problems, cause: error });
      }
      throw error;
    }
    // Before anything else is fetched: a refused signature installs and downloads nothing.
    const signature = await checkSignature({
      body,
      loaded,
      manifest,
      keys: await this.#keys.list(),
      requireSignatures: this.#ctx.options.requireSignatures,
      download,
      now: this.#ctx.now(),
      signal: opts.signal,
    });
    return await this.#locks.run(manifest.name, async () => {
      const existing = store.plugins.get(manifest.name);
      if (existing && existing.version === manifest.version) {
        return {
          outcome: "unchanged",
          plugin: withBootContract(existing),
          warnings: compatWarnings(manifest, this.#ctx.options.subnet),
        };
      }
      // A remove of this plugin cancels the install instead of waiting on a slow server.
      const cancel = new AbortController();
      this.#installing.set(manifest.name, cancel);
      try {
        return await this.#installLocked(manifest, loaded, allowUnverified, existing, signature, {
          signal: opts.signal ? AbortSignal.any([opts.signal, cancel.signal]) : cancel.signal,
        });
      } finally {
        this.#installing.delete(manifest.name);
      }
    });
  }

  async #installLocked(
    declared: PluginManifest,
    loaded: LoadedManifest,
    allowUnverified: boolean,
    existing: PluginRecord | undefined,
    signature: PluginSignature | null,
    opts: { signal: AbortSignal },
  ): Promise<PluginInstallResult> {
    const { store, events, now } = this.#ctx;
    const download = this.#downloader(loaded.origin.kind !== "body", opts.signal);
    // cloud-init documents named by path are stored inline: a seed never reads host paths.
    const manifest = await inlineDocPaths(declared, async (ref, field) => {
      const { source } = await resolveReference(ref, loaded.origin, field);
      if (source.kind === "file") return await Deno.readTextFile(source.path);
      const res = await download(source.url, field);
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const c of res.body) {
        size += c.length;
        if (size > MAX_DOC_BYTES) break;
        chunks.push(c);
      }
      const all = new Uint8Array(Math.min(size, MAX_DOC_BYTES + 1));
      let at = 0;
      for (const c of chunks) {
        all.set(c.subarray(0, all.length - at), at);
        at += Math.min(c.length, all.length - at);
      }
      return new TextDecoder().decode(all);
    });
    const refs = await collectArtifacts(manifest, loaded.origin, allowUnverified);
    const created: string[] = [];
    const artifacts: ArtifactRecord[] = [];
    const held: string[] = [];
    try {
      for (const ref of refs) {
        let lastEmit = 0;
        const blob = await this.#artifacts.put(ref.source, {
          expected: ref.expected,
          field: ref.field.replace(/\.(url|source)$/, ""),
          openHttp: (url, field) => download(url, field, ref.declaredSize),
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
        if (ref.declaredSize !== undefined && blob.size !== ref.declaredSize) {
          throw new VolantError(
            "invalid_input",
            `${ref.field}: ${ref.display} is ${blob.size} bytes but the manifest declares ${ref.declaredSize}`,
            { problems: [{ field: ref.field, message: "size differs from the declared size" }] },
          );
        }
        artifacts.push({
          kind: ref.kind,
          name: ref.name,
          // An image install's files are scratch: record where the bytes came from.
          url: loaded.source.startsWith("image:") ? loaded.source : ref.display,
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
      signature,
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
      signed_by: signature?.key_id ?? null,
    });
    if (existing) await this.collectGarbage();
    return {
      outcome,
      plugin: withBootContract(record),
      warnings: compatWarnings(manifest, this.#ctx.options.subnet),
    };
  }

  /** Guarded downloads under the install's policy and the configured limits. */
  #downloader(callerNamedSource: boolean, signal?: AbortSignal) {
    const { fetch, resolve, options } = this.#ctx;
    const { allowPrivateSources, ...limits } = options.downloads;
    const policy = { allowPrivate: callerNamedSource || allowPrivateSources };
    return (url: string, field: string, declaredSize?: number) =>
      guardedFetch(url, { fetch, resolve, policy, limits, field, signal, declaredSize });
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
    this.#installing.get(name)?.abort(
      new VolantError("conflict", `install of ${name} cancelled: the plugin is being removed`),
    );
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
    const removed = await this.#artifacts.collect(this.#referenced());
    if (removed > 0) this.#ctx.log.info("removed unreferenced artifacts", { count: removed });
  }
}

/** The event resource for an image install without --name: the repository's last component. */
function imageResourceName(image: string): string {
  const path = image.replace(/^(oci|docker-archive):/, "").split("@")[0];
  const last = path.split("/").pop()!.replace(/:[^:]*$/, "");
  return last.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63) ||
    "image";
}
