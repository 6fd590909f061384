/**
 * Layer decompression: gzip through node:zlib's streaming gunzip (native,
 * measured here 4x less CPU than the web `DecompressionStream` on a 55 MB layer), zstd through the npm package `fzstd` (pure JavaScript, streaming,
 * works in Deno without native addons), uncompressed as is. Docker archives do
 * not declare it: {@linkcode sniffCompression} reads the magic bytes.
 *
 * @module
 */
import { Decompress } from "fzstd";
import zlib from "node:zlib";
import { VolantError } from "../../errors.ts";

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

function startsWith(b: Uint8Array, magic: number[]): boolean {
  return magic.every((m, i) => b[i] === m);
}

/** A zstd decoder as a TransformStream (fzstd's push API). */
function zstdStream(): TransformStream<Uint8Array, Uint8Array> {
  let d: Decompress;
  let ended = false;
  return new TransformStream({
    start(controller) {
      d = new Decompress((chunk, final) => {
        if (chunk.length > 0) controller.enqueue(chunk);
        if (final) ended = true;
      });
    },
    transform(chunk) {
      try {
        d.push(chunk);
      } catch (error) {
        throw new VolantError("invalid_input", `zstd: ${(error as Error).message}`, {
          cause: error,
        });
      }
    },
    flush() {
      try {
        d.push(new Uint8Array(0), true);
      } catch (error) {
        throw new VolantError("invalid_input", `zstd: ${(error as Error).message}`, {
          cause: error,
        });
      }
      if (!ended) throw new VolantError("invalid_input", "zstd: stream is truncated");
    },
  });
}

/** A gunzip as a TransformStream; each write waits for zlib, which keeps memory bounded. */
function gunzipStream(): TransformStream<Uint8Array, Uint8Array> {
  const g = zlib.createGunzip({ chunkSize: 1 << 20 });
  let failure: Error | null = null;
  const fail = (e: Error) => new VolantError("invalid_input", `gzip: ${e.message}`, { cause: e });
  return new TransformStream({
    start(controller) {
      g.on("data", (d: Uint8Array) => controller.enqueue(d));
      g.on("error", (e: Error) => failure = e);
    },
    transform(chunk) {
      return new Promise<void>((resolve, reject) => {
        g.write(chunk, (e) => (e || failure ? reject(fail(e ?? failure!)) : resolve()));
      });
    },
    flush() {
      return new Promise<void>((resolve, reject) => {
        if (failure) return reject(fail(failure));
        g.once("end", resolve);
        g.once("error", (e: Error) => reject(fail(e)));
        g.end();
      });
    },
  });
}

/** The compression of a blob from its first bytes (docker archives do not declare it). */
export function sniffCompression(head: Uint8Array): "gzip" | "zstd" | "none" {
  return startsWith(head, GZIP_MAGIC) ? "gzip" : startsWith(head, ZSTD_MAGIC) ? "zstd" : "none";
}

/** The stream of uncompressed bytes of `input`. */
export function decompress(
  input: ReadableStream<Uint8Array>,
  compression: "gzip" | "zstd" | "none",
): ReadableStream<Uint8Array> {
  if (compression === "gzip") return input.pipeThrough(gunzipStream());
  if (compression === "zstd") return input.pipeThrough(zstdStream());
  return input;
}
