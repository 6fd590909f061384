/**
 * `buildOciRootfs`: an OCI image -> a bootable root filesystem image plus its
 * Volant plugin manifest. Shared by `fledge build` (strategy `oci_rootfs`) and
 * volantd (`volar plugins install --image`).
 *
 * Steps: resolve + pull (registry into the blob cache, or read an OCI layout /
 * docker archive in place) -> unpack every layer into a scratch tree (each
 * blob verified against its digest, each uncompressed layer against its
 * diff_id) -> ext4/erofs image -> manifest. The rootfs is also cached by
 * (image digest, filesystem options), so a second build of the same image
 * neither pulls nor converts. On any failure the scratch tree and partial
 * outputs are removed: the output directory holds what it held before.
 *
 * @module
 */
import { join } from "node:path";
import { VolantError } from "../../errors.ts";
import type { PluginManifest } from "../../manifest/mod.ts";
import { formatSums, parseSums, SUMS_FILE } from "../output.ts";
import { BlobCache } from "./blob_cache.ts";
import { decompress } from "./decompress.ts";
import { digestOf, Sha256, verifyingStream } from "./digest_stream.ts";
import { type FsType, makeFilesystem } from "./fs_image.ts";
import { DEFAULT_PLATFORM, type Platform } from "./image_manifest.ts";
import { manifestFromImage, type ManifestOverrides } from "./image_to_manifest.ts";
import { openArchive, openLayout } from "./layout_source.ts";
import type { PulledImage } from "./pulled_image.ts";
import { formatReference, type ImageReference, parseReference } from "./reference.ts";
import { mib, pullFromRegistry } from "./registry_source.ts";
import { defaultRegistryTimeout } from "./http.ts";
import { Unpacker, type UnpackStats } from "./unpack.ts";
import { overlayMappings } from "./mappings_overlay.ts";
import type { MappingTarget } from "../../manifest/fledge.ts";
import { existsSync } from "../../shared/fs.ts";

/** Bumped when the unpacker or the filesystem writer changes what it produces. */
export const CONVERTER_VERSION = "3";

/** Options for {@linkcode buildOciRootfs}. */
export interface OciBuildOptions {
  /** Image reference: `[registry/]repo[:tag][@digest]`, `oci:DIR[:tag]`, `docker-archive:FILE`. */
  image: string;
  /** Where `<name>-<version>.img` and `<name>.manifest.json` go (created if missing). */
  outDir: string;
  /** fledge.toml `[mappings]`, put over the image (sources relative to `configDir`). */
  mappings?: { mappings: Record<string, MappingTarget>; configDir: string };
  /** Field name for the image in errors (default `source.image`). */
  imageField?: string;
  /** Manifest values that win over the image's. */
  overrides?: ManifestOverrides;
  /** Filesystem type (default ext4), headroom MiB (default 64), preallocate (default false). */
  filesystem?: { type?: FsType; size_buffer_mb?: number; preallocate?: boolean };
  platform?: Platform;
  registryAuth?: string;
  insecureRegistries?: string[];
  caFiles?: string[];
  /** Blob + rootfs cache (default `${VOLANT_CACHE_DIR:-/var/cache/volant}/oci`). */
  cacheDir?: string;
  /** Header / idle timeout for registry requests (default FLEDGE_REGISTRY_TIMEOUT_MS or 30 s). */
  timeoutMs?: number;
  /**
   * Where the unpacked tree lives until the filesystem is written: default a
   * fresh directory on tmpfs (/dev/shm) when it has room for 4x the layers'
   * size, else inside `outDir`. Creating thousands of files on a disk
   * filesystem costs far more than in RAM; the tree is scratch either way.
   */
  scratchDir?: string;
  /** Timestamp for ctime and the superblock (SOURCE_DATE_EPOCH; default 0). */
  epoch?: number;
  /** URL prefix for `rootfs.url` (default: the relative file name). */
  baseUrl?: string;
  signal?: AbortSignal;
  /** One line per step. */
  progress?: (line: string) => void;
  /** Download progress per blob. */
  onBytes?: (digest: string, bytes: number, total: number | undefined) => void;
}

/** What a build produced. */
export interface OciBuildResult {
  name: string;
  version: string;
  strategy: "oci_rootfs";
  image: { reference: string; digest: string; config_digest: string };
  rootfs: {
    file: string;
    path: string;
    sha256: string;
    size: number;
    type: FsType;
    cached: boolean;
  };
  manifest: { file: string; path: string; sha256: string; value: PluginManifest };
  /** Path of the SHA256SUMS file (for signing). */
  sha256sums: string;
  pulled_bytes: number;
  unpack?: UnpackStats;
  /** unpack (with the downloads it waited for), fs (mkfs + pinning), hash (sha256 of the image). */
  timings_ms: Record<string, number>;
  duration_ms: number;
}

/** The default cache: `${VOLANT_CACHE_DIR:-/var/cache/volant}/oci`. */
export function defaultOciCache(): string {
  return join(Deno.env.get("VOLANT_CACHE_DIR") || "/var/cache/volant", "oci");
}

/** Resolves the reference to an image ready to unpack (pulling when it is a registry's). */
export async function resolveImage(ref: ImageReference, o: OciBuildOptions, cache: BlobCache) {
  if (ref.kind === "oci") return openLayout(ref, o.platform ?? DEFAULT_PLATFORM);
  if (ref.kind === "docker-archive") return await openArchive(ref);
  return await pullFromRegistry(ref, {
    cache,
    platform: o.platform,
    registryAuth: o.registryAuth,
    insecureRegistries: o.insecureRegistries,
    caFiles: o.caFiles,
    timeoutMs: o.timeoutMs ?? defaultRegistryTimeout(),
    signal: o.signal,
    progress: o.progress,
    onBytes: o.onBytes,
  });
}

/** Unpacks every layer of `image` into `tree`, checking each diff_id. */
export async function unpackImage(
  image: PulledImage,
  tree: string,
  signal?: AbortSignal,
  opts: { rootless?: boolean; beforeFinish?: (u: Unpacker) => void } = {},
): Promise<Unpacker> {
  const unpacker = new Unpacker(tree, opts);
  for (const layer of image.layers) {
    signal?.throwIfAborted();
    const what = `layer ${layer.index + 1} ${layer.digest ?? layer.diffId}`;
    await layer.ready?.();
    const tar = decompress(layer.open(), layer.compression)
      .pipeThrough(verifyingStream(layer.diffId, `${what} (uncompressed, diff_id)`));
    try {
      await unpacker.applyLayer(tar, what);
    } catch (error) {
      // Corrupt bytes usually break the decompressor before the digest check at
      // the end of the stream: when the blob itself is wrong, say that instead.
      await drain(layer.open());
      if (error instanceof VolantError) throw error;
      throw new VolantError(
        "invalid_input",
        `${what}: cannot unpack: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
  opts.beforeFinish?.(unpacker);
  unpacker.finish(0);
  return unpacker;
}

/** Reads a stream to its end (its digest check throws at the end when the bytes are wrong). */
async function drain(stream: ReadableStream<Uint8Array>): Promise<void> {
  for await (const _ of stream) { /* hashing happens in the stream */ }
}

/** tmpfs with room for the unpacked tree, else `fallback`. */
async function scratchFor(image: PulledImage, explicit: string | undefined, fallback: string) {
  if (explicit !== undefined) {
    Deno.mkdirSync(explicit, { recursive: true });
    return Deno.makeTempDirSync({ dir: explicit, prefix: "fledge-oci-" });
  }
  const need = image.layers.reduce((n, l) => n + (l.size ?? 0), 0) * 4 + (256 << 20);
  const out = await new Deno.Command("df", {
    args: ["--output=avail,fstype", "-B1", "/dev/shm"],
    stdout: "piped",
    stderr: "null",
  }).output().catch((error) => {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  });
  const row = out?.success ? new TextDecoder().decode(out.stdout).trim().split("\n")[1] : "";
  const [avail, fstype] = (row ?? "").trim().split(/\s+/);
  if (fstype === "tmpfs" && Number(avail) > need) {
    return Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "fledge-oci-" });
  }
  return fallback;
}

async function sha256File(path: string): Promise<string> {
  const h = new Sha256();
  using f = await Deno.open(path, { read: true });
  const buf = new Uint8Array(4 << 20);
  for (let n; (n = await f.read(buf)) !== null;) h.update(buf.subarray(0, n));
  return h.digest().slice(7);
}

function copyOrLink(from: string, to: string): void {
  try {
    Deno.linkSync(from, to);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotSupported || error instanceof Error)) throw error;
    Deno.copyFileSync(from, to);
  }
}

/** Builds the rootfs and manifest for `options.image`. */
export async function buildOciRootfs(options: OciBuildOptions): Promise<OciBuildResult> {
  const started = performance.now();
  const say = options.progress ?? (() => {});
  const field = options.imageField ?? "source.image";
  const ref = parseReference(options.image, field);
  const fsType: FsType = options.filesystem?.type ?? "ext4";
  const headroom = options.filesystem?.size_buffer_mb ?? 64;
  const epoch = options.epoch ?? 0;
  const cacheDir = options.cacheDir ?? defaultOciCache();
  const cache = new BlobCache(join(cacheDir, "blobs"));
  Deno.mkdirSync(options.outDir, { recursive: true });
  say(`image ${formatReference(ref)}`);
  const image = await resolveImage(ref, options, cache);
  try {
    return await convert(image, options, { ref, fsType, headroom, epoch, cacheDir, started });
  } finally {
    await image.release?.();
  }
}

/** Everything after resolving: rootfs (cached or converted), manifest, outputs. */
async function convert(
  image: PulledImage,
  options: OciBuildOptions,
  o: {
    ref: ImageReference;
    fsType: FsType;
    headroom: number;
    epoch: number;
    cacheDir: string;
    started: number;
  },
): Promise<OciBuildResult> {
  const { ref, fsType, headroom, epoch, cacheDir, started } = o;
  const say = options.progress ?? (() => {});
  say(`image digest ${image.digest} (${image.layers.length} layers)`);

  const rootfsKey = digestOf(new TextEncoder().encode(
    [
      CONVERTER_VERSION,
      image.digest,
      fsType,
      headroom,
      epoch,
      options.filesystem?.preallocate ?? false,
    ]
      .join(" "),
  )).slice(7);
  const cachedRootfs = join(cacheDir, "rootfs", `${rootfsKey}.${fsType}`);
  const scratch = Deno.makeTempDirSync({ dir: options.outDir, prefix: ".fledge-oci-" });
  let stats: UnpackStats | undefined;
  let cached = true;
  let removing: Promise<void> | undefined;
  const treeDirs: string[] = [];
  const timings: Record<string, number> = {};
  try {
    const tmpImage = join(scratch, `rootfs.${fsType}`);
    if (options.mappings === undefined && existsSync(cachedRootfs)) {
      copyOrLink(cachedRootfs, tmpImage);
      say(`rootfs: cache hit ${cachedRootfs}`);
    } else {
      cached = false;
      const treeParent = await scratchFor(image, options.scratchDir, scratch);
      const tree = join(treeParent, "tree");
      Deno.mkdirSync(tree);
      if (treeParent !== scratch) treeDirs.push(treeParent);
      say(`unpacking into ${tree}`);
      const t0 = performance.now();
      const rootless = Deno.uid() !== 0;
      const m = options.mappings;
      const unpacker = await unpackImage(image, tree, options.signal, {
        rootless,
        beforeFinish: m === undefined ? undefined : (u) => {
          const n = overlayMappings(tree, m.mappings, m.configDir, u.fixups, epoch, [
            Deno.realPathSync(options.outDir),
          ]);
          say(`mappings: ${n} entries over the image`);
        },
      });
      stats = unpacker.stats;
      say(
        `unpacked ${stats.entries} entries (${stats.files} files, ${mib(stats.bytes)}, ` +
          `${stats.whiteouts} whiteouts) in ${Math.round(performance.now() - t0)} ms`,
      );
      timings.unpack_ms = Math.round(performance.now() - t0);
      const t1 = performance.now();
      const fs = await makeFilesystem({
        tree,
        output: tmpImage,
        type: fsType,
        key: image.digest,
        headroomMb: headroom,
        epoch,
        preallocate: options.filesystem?.preallocate,
        fixups: unpacker.fixups
          ? { fixups: unpacker.fixups, dirTime: (rel) => unpacker.dirTime(rel) }
          : undefined,
      });
      timings.fs_ms = Math.round(performance.now() - t1);
      say(`${fsType}: ${mib(fs.size)} in ${timings.fs_ms} ms`);
      // The tree goes away on another thread while the image is hashed here.
      removing = Deno.remove(tree, { recursive: true });
      Deno.mkdirSync(join(cacheDir, "rootfs"), { recursive: true });
      const tmpCache = `${cachedRootfs}.${crypto.randomUUID()}.tmp`;
      copyOrLink(tmpImage, tmpCache);
      Deno.renameSync(tmpCache, cachedRootfs);
    }
    const t2 = performance.now();
    const sha256 = await sha256File(tmpImage);
    timings.hash_ms = Math.round(performance.now() - t2);
    await removing;
    const repository = ref.kind === "registry"
      ? ref.repository
      : ref.kind === "oci"
      ? ref.dir.replace(/\/+$/, "").split("/").pop()!
      : ref.file.split("/").pop()!.replace(/\.tar$/, "");
    const tag = ref.kind === "registry" ? ref.tag : ref.kind === "oci" ? ref.tag : undefined;
    const probe = manifestFromImage({
      config: image.config,
      image: { reference: image.reference, digest: image.digest, repository, tag },
      rootfs: { url: "probe.img", sha256 },
      overrides: options.overrides,
    });
    const rootfsFile = `${probe.name}-${probe.version}.img`;
    const url = options.baseUrl === undefined
      ? rootfsFile
      : `${options.baseUrl.replace(/\/+$/, "")}/${rootfsFile}`;
    const manifest = manifestFromImage({
      config: image.config,
      image: { reference: image.reference, digest: image.digest, repository, tag },
      rootfs: { url, sha256 },
      overrides: options.overrides,
    });
    const manifestFile = `${manifest.name}.manifest.json`;
    const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n");
    Deno.writeFileSync(join(scratch, manifestFile), manifestBytes);
    const size = Deno.statSync(tmpImage).size;
    // Into place: rootfs, manifest, then SHA256SUMS (each a rename inside one directory).
    Deno.renameSync(tmpImage, join(options.outDir, rootfsFile));
    Deno.renameSync(join(scratch, manifestFile), join(options.outDir, manifestFile));
    writeSums(options.outDir, scratch, {
      [rootfsFile]: sha256,
      [manifestFile]: digestOf(manifestBytes).slice(7),
    });
    say(`wrote ${join(options.outDir, rootfsFile)} (sha256:${sha256})`);
    return {
      name: manifest.name,
      version: manifest.version,
      strategy: "oci_rootfs",
      image: {
        reference: image.reference,
        digest: image.digest,
        config_digest: image.configDigest,
      },
      rootfs: {
        file: rootfsFile,
        path: join(options.outDir, rootfsFile),
        sha256,
        size,
        type: fsType,
        cached,
      },
      manifest: {
        file: manifestFile,
        path: join(options.outDir, manifestFile),
        sha256: digestOf(manifestBytes).slice(7),
        value: manifest,
      },
      sha256sums: join(options.outDir, SUMS_FILE),
      pulled_bytes: image.fetchedBytes,
      unpack: stats,
      timings_ms: timings,
      duration_ms: Math.round(performance.now() - started),
    };
  } finally {
    // A failed background removal is retried by the removal of the whole scratch dir below.
    await removing?.catch(() => undefined);
    for (const d of treeDirs) Deno.removeSync(d, { recursive: true });
    Deno.removeSync(scratch, { recursive: true });
  }
}

function writeSums(dir: string, scratch: string, add: Record<string, string>): void {
  let sums = new Map<string, string>();
  try {
    sums = parseSums(Deno.readTextFileSync(join(dir, SUMS_FILE)));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const [f, h] of Object.entries(add)) sums.set(f, h);
  const tmp = join(scratch, SUMS_FILE);
  Deno.writeTextFileSync(tmp, formatSums(sums));
  Deno.renameSync(tmp, join(dir, SUMS_FILE));
}
