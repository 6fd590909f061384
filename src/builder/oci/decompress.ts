/**
 * Layer decompression: gzip through the runtime's `DecompressionStream`
 * (native), zstd through the npm package `fzstd` (pure JavaScript, streaming,
 * works in Deno without native addons), uncompressed as is. Docker archives do
 * not declare it: {@linkcode sniffCompression} reads the magic bytes.
 *
 * @module
 */
import { Decompress } from "fzstd";
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

/** The compression of a blob from its first bytes (docker archives do not declare it). */
export function sniffCompression(head: Uint8Array): "gzip" | "zstd" | "none" {
  return startsWith(head, GZIP_MAGIC) ? "gzip" : startsWith(head, ZSTD_MAGIC) ? "zstd" : "none";
}

/** The stream of uncompressed bytes of `input`. */
export function decompress(
  input: ReadableStream<Uint8Array>,
  compression: "gzip" | "zstd" | "none",
): ReadableStream<Uint8Array> {
  if (compression === "gzip") {
    return input.pipeThrough(
      new DecompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  if (compression === "zstd") return input.pipeThrough(zstdStream());
  return input;
}
