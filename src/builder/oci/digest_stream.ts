/**
 * Digest checks on streams: every byte that reaches the unpacker or the cache
 * has been hashed on its way, and a stream whose digest does not match its
 * descriptor errors at its end (before anyone trusts the result).
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { VolantError } from "../../errors.ts";

/** `sha256:<64 hex>`: the only algorithm registries use in practice. */
export const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Throws `invalid_input` unless `digest` is `sha256:<64 lower-case hex>`. */
export function assertDigest(digest: unknown, what: string): asserts digest is string {
  if (typeof digest !== "string" || !SHA256_DIGEST.test(digest)) {
    throw new VolantError("upstream", `${what}: unsupported or malformed digest "${digest}"`);
  }
}

/** The error for a digest mismatch: expected and actual, in one line. */
export function mismatch(what: string, expected: string, actual: string): VolantError {
  return new VolantError(
    "checksum_mismatch",
    `${what}: digest mismatch: expected ${expected}, got ${actual}`,
    { details: { expected, actual } },
  );
}

/** Incremental sha256 that can be resumed from bytes already on disk. */
export class Sha256 {
  readonly #hash: Hash = createHash("sha256");
  bytes = 0;
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
  }
  digest(): string {
    return `sha256:${this.#hash.digest("hex")}`;
  }
}

/** `sha256:<hex>` of a whole buffer. */
export function digestOf(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/**
 * A pass-through that hashes what flows and, at the end, errors with
 * `checksum_mismatch` if the digest is not `expected` (or the size not `size`).
 */
export function verifyingStream(
  expected: string,
  what: string,
  size?: number,
): TransformStream<Uint8Array, Uint8Array> {
  const h = new Sha256();
  return new TransformStream({
    transform(chunk, controller) {
      h.update(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      const actual = h.digest();
      if (actual !== expected) throw mismatch(what, expected, actual);
      if (size !== undefined && h.bytes !== size) {
        throw new VolantError(
          "checksum_mismatch",
          `${what}: size mismatch: expected ${size} bytes, got ${h.bytes}`,
        );
      }
    },
  });
}
