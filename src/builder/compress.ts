/**
 * Deterministic compression of the archive. gzip is zlib level 9 through
 * node:zlib: its header has mtime 0, no name and OS byte 3, so the bytes depend
 * only on the input (CompressionStream is level 6 and bigger; see
 * bench/fledge_bench.ts). zstd (level 19) needs CONFIG_RD_ZSTD in the guest kernel.
 *
 * @module
 */
import zlib from "node:zlib";

/** The `[output] compression` choices. */
export type Compression = "gzip" | "zstd" | "none";

/** File-name suffix of the artifact for each compression. */
export const SUFFIX: Readonly<Record<Compression, string>> = {
  gzip: ".cpio.gz",
  zstd: ".cpio.zst",
  none: ".cpio",
};

/** Compresses `data` deterministically. */
export function compress(data: Uint8Array, how: Compression): Uint8Array {
  switch (how) {
    case "none":
      return data;
    case "gzip": {
      const out = zlib.gzipSync(data, { level: 9, memLevel: 8, windowBits: 15 });
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    }
    case "zstd": {
      const out = zlib.zstdCompressSync(data, {
        params: {
          [zlib.constants.ZSTD_c_compressionLevel]: 19,
          [zlib.constants.ZSTD_c_checksumFlag]: 1,
        },
      });
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    }
  }
}
