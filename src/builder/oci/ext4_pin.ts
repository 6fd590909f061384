/**
 * ext4 superblock fields that mke2fs/debugfs stamp with the wall clock even
 * under E2FSPROGS_FAKE_TIME (mount/write/check/mkfs times, kbytes written):
 * set to a fixed epoch and the superblock checksum recomputed, so the same
 * image digest always gives the same filesystem bytes.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";

const CRC32C_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});

/** ext4's superblock checksum: crc32c seeded with ~0, no final inversion. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = (CRC32C_TABLE[(crc ^ b) & 0xff] ^ (crc >>> 8)) >>> 0;
  return crc >>> 0;
}

/** Pins the superblock's clock fields of the ext4 image at `path` to `epoch`. */
export function pinSuperblock(path: string, epoch: number): void {
  using file = Deno.openSync(path, { read: true, write: true });
  const sb = new Uint8Array(1024);
  file.seekSync(1024, Deno.SeekMode.Start);
  if (file.readSync(sb) !== 1024) throw new VolantError("internal", `${path}: short superblock`);
  const view = new DataView(sb.buffer);
  if (view.getUint16(0x38, true) !== 0xef53) throw new VolantError("internal", `${path}: not ext4`);
  for (const off of [0x2c, 0x30, 0x40, 0x108]) view.setUint32(off, epoch, true); // m/w/check/mkfs
  for (const off of [0x274, 0x275, 0x276, 0x277]) sb[off] = 0; // *_hi bytes of those times
  view.setBigUint64(0x178, 0n, true); // s_kbytes_written
  if (view.getUint32(0x64, true) & 0x400) { // RO_COMPAT_METADATA_CSUM
    view.setUint32(0x3fc, crc32c(sb.subarray(0, 0x3fc)), true);
  }
  file.seekSync(1024, Deno.SeekMode.Start);
  file.writeSync(sb);
}
