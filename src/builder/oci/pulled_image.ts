/**
 * What every image source (registry, OCI layout, docker archive) hands the
 * unpacker: the image's identity, its config, and its layers as streams of
 * their stored (compressed) bytes, each verified against its digest as it is
 * read.
 *
 * @module
 */
import { verifyingStream } from "./digest_stream.ts";
import type { ImageConfig } from "./image_manifest.ts";

/** One layer: where its bytes are and what they must hash to. */
export interface LayerBlob {
  /** Position, bottom layer first (0-based). */
  index: number;
  /** Digest of the stored bytes (absent for docker-archive members, which have only diff_ids). */
  digest?: string;
  /** Digest of the uncompressed tar (config `rootfs.diff_ids`). */
  diffId: string;
  /** Compression of the stored bytes. */
  compression: "gzip" | "zstd" | "none";
  /** Stored size, when known. */
  size?: number;
  /** Opens the stored bytes, verified against `digest` when there is one. */
  open(): ReadableStream<Uint8Array>;
  /**
   * Resolves once the bytes are there to open (a registry layer downloads in
   * the background while lower layers unpack); absent = already there.
   */
  ready?: () => Promise<void>;
}

/** A resolved image, ready to unpack. */
export interface PulledImage {
  /** The reference as given, canonicalised. */
  reference: string;
  /** Content address: the manifest digest (for docker-archive, the config digest). */
  digest: string;
  configDigest: string;
  config: ImageConfig;
  layers: LayerBlob[];
  /** Bytes downloaded so far (0 when everything came from the cache or disk). */
  fetchedBytes: number;
  /** Stops background downloads and frees connections; call once, when done with the image. */
  release?: () => Promise<void>;
}

/** A stream of `length` bytes of `path` from `offset` (to the end when length is undefined). */
export function fileRange(path: string, offset = 0, length?: number): ReadableStream<Uint8Array> {
  let file: Deno.FsFile | undefined;
  let left = length ?? Infinity;
  return new ReadableStream<Uint8Array>({
    type: "bytes",
    async start() {
      file = await Deno.open(path, { read: true });
      if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
    },
    async pull(controller) {
      if (left <= 0) {
        file!.close();
        controller.close();
        return;
      }
      const buf = new Uint8Array(Math.min(1 << 20, left));
      const n = await file!.read(buf);
      if (n === null) {
        file!.close();
        controller.close();
        return;
      }
      left -= n;
      controller.enqueue(buf.subarray(0, n));
    },
    cancel() {
      file?.close();
    },
  });
}

/** `fileRange` piped through a digest check when `digest` is known. */
export function verifiedFile(
  path: string,
  digest: string | undefined,
  what: string,
  offset = 0,
  length?: number,
): ReadableStream<Uint8Array> {
  const s = fileRange(path, offset, length);
  return digest === undefined ? s : s.pipeThrough(verifyingStream(digest, what, length));
}
