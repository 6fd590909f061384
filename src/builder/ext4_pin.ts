/**
 * The clock in an ext4 image mke2fs writes, pinned so the same image digest
 * always gives the same bytes: superblock fields stamped with the wall clock
 * even under E2FSPROGS_FAKE_TIME (mount/write/check/mkfs times, kbytes
 * written), and every inode's atime/ctime/crtime (mke2fs -d copies the host's
 * ctime and reading the tree moves atimes). Checksums are recomputed
 * (metadata_csum); e2fsck -fn checks the result in the tests.
 *
 * @module
 */
import { VolantError } from "../errors.ts";

const CRC32C_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});

/** ext4's crc32c (`ext4_chksum`): from `seed` (default ~0), no final inversion. */
export function crc32c(bytes: Uint8Array, seed = 0xffffffff): number {
  let crc = seed >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    crc = CRC32C_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  }
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

const LE = true;

/**
 * Sets atime, ctime and crtime of every inode in use to `epoch` (and mtime
 * too for the reserved inodes, the root and lost+found, which mke2fs stamps
 * with the clock), recomputing inode checksums. Returns the inodes patched.
 */
export function pinInodeTimes(path: string, epoch: number): number {
  using file = Deno.openSync(path, { read: true, write: true });
  const sbBytes = new Uint8Array(1024);
  file.seekSync(1024, Deno.SeekMode.Start);
  file.readSync(sbBytes);
  const sb = new DataView(sbBytes.buffer);
  if (sb.getUint16(0x38, LE) !== 0xef53) throw new VolantError("internal", `${path}: not ext4`);
  const blockSize = 1024 << sb.getUint32(0x18, LE);
  const firstDataBlock = sb.getUint32(0x14, LE);
  const blocksPerGroup = sb.getUint32(0x20, LE);
  const inodesPerGroup = sb.getUint32(0x28, LE);
  const blocks = sb.getUint32(0x4, LE) + (sb.getUint32(0x150, LE) * 2 ** 32);
  const inodeSize = sb.getUint32(0x4c, LE) >= 1 ? sb.getUint16(0x58, LE) : 128;
  const firstIno = sb.getUint32(0x4c, LE) >= 1 ? sb.getUint32(0x54, LE) : 11;
  const incompat = sb.getUint32(0x60, LE);
  const is64 = (incompat & 0x80) !== 0;
  const descSize = is64 ? sb.getUint16(0xfe, LE) : 32;
  const csum = (sb.getUint32(0x64, LE) & 0x400) !== 0;
  const seed = (incompat & 0x2000) !== 0
    ? sb.getUint32(0x270, LE)
    : crc32c(sbBytes.subarray(0x68, 0x78));
  const groups = Math.ceil((blocks - firstDataBlock) / blocksPerGroup);
  const gdt = new Uint8Array(groups * descSize);
  file.seekSync((firstDataBlock + 1) * blockSize, Deno.SeekMode.Start);
  readFull(file, gdt);
  const gd = new DataView(gdt.buffer);
  let patched = 0;
  const word = new DataView(new ArrayBuffer(4));
  for (let g = 0; g < groups; g++) {
    const o = g * descSize;
    if (gd.getUint16(o + 0x12, LE) & 0x1) continue; // INODE_UNINIT
    const table = gd.getUint32(o + 0x8, LE) + (is64 ? gd.getUint32(o + 0x28, LE) * 2 ** 32 : 0);
    const unused = gd.getUint16(o + 0x1c, LE) + (is64 ? gd.getUint16(o + 0x32, LE) * 65536 : 0);
    const count = inodesPerGroup - unused;
    if (count <= 0) continue;
    const buf = new Uint8Array(count * inodeSize);
    file.seekSync(table * blockSize, Deno.SeekMode.Start);
    readFull(file, buf);
    const v = new DataView(buf.buffer);
    let dirty = false;
    for (let i = 0; i < count; i++) {
      const b = i * inodeSize;
      const ino = g * inodesPerGroup + i + 1;
      const links = v.getUint16(b + 0x1a, LE);
      const times = v.getUint32(b + 0x8, LE) | v.getUint32(b + 0xc, LE) | v.getUint32(b + 0x10, LE);
      if (links === 0 && times === 0) continue;
      const extra = inodeSize > 128 ? v.getUint16(b + 0x80, LE) : 0;
      v.setUint32(b + 0x8, epoch, LE); // atime
      v.setUint32(b + 0xc, epoch, LE); // ctime
      const pinMtime = ino <= firstIno;
      if (pinMtime) v.setUint32(b + 0x10, epoch, LE);
      if (extra >= 0x8) v.setUint32(b + 0x84, 0, LE); // ctime_extra
      if (extra >= 0xc && pinMtime) v.setUint32(b + 0x88, 0, LE); // mtime_extra
      if (extra >= 0x10) v.setUint32(b + 0x8c, 0, LE); // atime_extra
      if (extra >= 0x18) {
        v.setUint32(b + 0x90, epoch, LE); // crtime
        v.setUint32(b + 0x94, 0, LE); // crtime_extra
      }
      if (csum) {
        v.setUint16(b + 0x7c, 0, LE);
        if (extra >= 4) v.setUint16(b + 0x82, 0, LE);
        word.setUint32(0, ino, LE);
        let c = crc32c(new Uint8Array(word.buffer), seed);
        word.setUint32(0, v.getUint32(b + 0x64, LE), LE); // i_generation
        c = crc32c(new Uint8Array(word.buffer), c);
        c = crc32c(buf.subarray(b, b + inodeSize), c);
        v.setUint16(b + 0x7c, c & 0xffff, LE);
        if (extra >= 4) v.setUint16(b + 0x82, c >>> 16, LE);
      }
      dirty = true;
      patched++;
    }
    if (dirty) {
      file.seekSync(table * blockSize, Deno.SeekMode.Start);
      for (let w = 0; w < buf.length;) w += file.writeSync(buf.subarray(w));
    }
  }
  return patched;
}

function readFull(file: Deno.FsFile, buf: Uint8Array): void {
  for (let got = 0; got < buf.length;) {
    const n = file.readSync(buf.subarray(got));
    if (n === null) throw new VolantError("internal", "ext4 image: short read");
    got += n;
  }
}
