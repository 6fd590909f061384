/**
 * SHA-256 helpers (node:crypto: streaming-free and fast on large buffers).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { VolantError } from "../errors.ts";
import { checksumHex } from "../manifest/names.ts";

/** Lower-case hex SHA-256 of `data`. */
export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Throws `checksum_mismatch` naming `field` when `data` does not hash to `expected`. */
export function verifySha256(data: Uint8Array, expected: string, field: string): void {
  const want = checksumHex(expected);
  const got = sha256Hex(data);
  if (got !== want) {
    throw new VolantError(
      "checksum_mismatch",
      `${field}: checksum mismatch: expected sha256:${want}, got sha256:${got}`,
      { problems: [{ field, message: `expected sha256:${want}, got sha256:${got}` }] },
    );
  }
}
