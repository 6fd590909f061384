/**
 * Pull from a registry: resolve the tag (or digest) to a manifest, an index to
 * the wanted platform, then fetch the config and every layer into the blob
 * cache (verified, resumable). A second pull of the same image fetches only
 * the manifest when it was named by tag, nothing at all when named by digest.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { BlobCache } from "./blob_cache.ts";
import { findCredentials } from "./credentials.ts";
import { registryHttpClient } from "./http.ts";
import {
  decodeJson,
  DEFAULT_PLATFORM,
  INDEX_TYPES,
  layerCompression,
  MANIFEST_TYPES,
  mediaTypeOf,
  parseImageConfig,
  parseImageManifest,
  type Platform,
  selectPlatform,
} from "./image_manifest.ts";
import { type PulledImage, verifiedFile } from "./pulled_image.ts";
import { formatReference, type RegistryReference } from "./reference.ts";
import { RegistryClient } from "./registry.ts";

/** Options for {@linkcode pullFromRegistry}. */
export interface RegistryPullOptions {
  cache: BlobCache;
  platform?: Platform;
  /** `USER:PASSWORD` (`--registry-auth`). */
  registryAuth?: string;
  /** Registries (host[:port]) spoken to over plain HTTP. */
  insecureRegistries?: string[];
  /** Extra CA files (PEM) to trust. */
  caFiles?: string[];
  timeoutMs: number;
  signal?: AbortSignal;
  progress?: (line: string) => void;
  /** Bytes of each blob as it downloads. */
  onBytes?: (digest: string, bytes: number, total: number | undefined) => void;
}

/**
 * Resolves `ref` (manifest and config into `options.cache`) and describes it.
 * The layers download on first demand (`layer.ready()`), one after another in
 * the background, so lower layers unpack while upper ones are still coming;
 * an image whose rootfs is already converted never downloads its layers.
 * Call `release()` when done.
 */
export async function pullFromRegistry(
  ref: RegistryReference,
  options: RegistryPullOptions,
): Promise<PulledImage> {
  const say = options.progress ?? (() => {});
  const want = options.platform ?? DEFAULT_PLATFORM;
  const name = formatReference(ref);
  const client = registryHttpClient({ caFiles: options.caFiles });
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const registry = new RegistryClient(ref, {
    client,
    credentials: findCredentials(ref.registry, options.registryAuth),
    insecure: options.insecureRegistries?.includes(ref.registry) ?? false,
    timeoutMs: options.timeoutMs,
    signal,
  });
  const { cache } = options;
  const image: PulledImage = {
    reference: name,
    digest: "",
    configDigest: "",
    config: {},
    fetchedBytes: 0,
    layers: [],
  };
  try {
    // A manifest named by digest may already be cached: then nothing goes over the wire.
    const getManifest = async (reference: string) => {
      if (reference.startsWith("sha256:") && cache.has(reference)) {
        const bytes = await Deno.readFile(cache.path(reference));
        return { bytes, digest: reference, mediaType: "" };
      }
      const m = await registry.manifest(reference);
      image.fetchedBytes += m.bytes.length;
      return m;
    };
    let m = await getManifest(ref.digest ?? ref.tag!);
    let doc = decodeJson(m.bytes, name);
    let type = mediaTypeOf(doc, m.mediaType);
    if (INDEX_TYPES.includes(type)) {
      cache.putBytes(m.digest, m.bytes, name);
      const pick = selectPlatform(doc, want, name);
      say(
        `index ${m.digest.slice(0, 19)}: ${pickName(pick.platform)} -> ${pick.digest.slice(0, 19)}`,
      );
      m = await getManifest(pick.digest);
      doc = decodeJson(m.bytes, `${name}@${pick.digest}`);
      type = mediaTypeOf(doc, m.mediaType);
    }
    if (!MANIFEST_TYPES.includes(type)) {
      throw new VolantError("not_implemented", `${name}: unsupported manifest type ${type}`);
    }
    cache.putBytes(m.digest, m.bytes, name);
    const manifest = parseImageManifest(doc, name);
    image.fetchedBytes += await registry.blob(cache, manifest.config.digest, manifest.config.size);
    const configBytes = await Deno.readFile(cache.path(manifest.config.digest));
    const config = parseImageConfig(
      decodeJson(configBytes, `${name} config`),
      manifest.layers.length,
      `${name} config`,
    );
    if (config.os !== undefined && config.os !== want.os) {
      throw new VolantError("invalid_input", `${name}: image is for ${config.os}, not ${want.os}`);
    }
    const total = manifest.layers.reduce((s, l) => s + l.size, 0);
    const waiting = manifest.layers.map(() => Promise.withResolvers<void>());
    // Consumers await these; an unobserved rejection must not crash the process.
    for (const w of waiting) w.promise.catch(() => {});
    let downloads: Promise<void> | undefined;
    const download = () =>
      downloads ??= (async () => {
        let got = 0;
        for (const [i, layer] of manifest.layers.entries()) {
          try {
            const cached = cache.has(layer.digest);
            image.fetchedBytes += await registry.blob(cache, layer.digest, layer.size, (b, t) => {
              options.onBytes?.(layer.digest, b, t);
            });
            got += layer.size;
            say(
              `layer ${i + 1}/${manifest.layers.length} ${layer.digest.slice(7, 19)} ` +
                `${mib(layer.size)} ${cached ? "cached" : "pulled"} (${mib(got)} of ${mib(total)})`,
            );
            waiting[i].resolve();
          } catch (error) {
            for (const w of waiting.slice(i)) w.reject(error);
            return;
          }
        }
      })();
    const ids = config.rootfs!.diff_ids!;
    image.digest = m.digest;
    image.configDigest = manifest.config.digest;
    image.config = config;
    image.layers = manifest.layers.map((l, i) => ({
      index: i,
      digest: l.digest,
      diffId: ids[i],
      compression: layerCompression(l.mediaType)!,
      size: l.size,
      ready: () => {
        download();
        return waiting[i].promise;
      },
      open: () => verifiedFile(cache.path(l.digest), l.digest, `layer ${i + 1} ${l.digest}`),
    }));
    image.release = async () => {
      stop.abort();
      await downloads;
      client.close();
    };
    return image;
  } catch (error) {
    client.close();
    throw error;
  }
}

function pickName(p: { os?: string; architecture?: string; variant?: string } | undefined) {
  return p ? `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}` : "?";
}

/** Bytes as MiB with one decimal. */
export function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}
