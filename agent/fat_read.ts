/**
 * Reads the files in the root directory of a FAT12/16 filesystem image (long
 * names included), enough to take a cloud-init `cidata` seed off its disk
 * when the guest kernel has no FAT driver to mount it. Pure: takes the bytes.
 *
 * @module
 */

export interface FatVolume {
  /** The boot sector's volume label, trimmed (e.g. `CIDATA`). */
  label: string;
  files: Map<string, Uint8Array>;
}

/** The volume label if `boot` is a FAT12/16 boot sector, else null. */
export function fatLabel(boot: Uint8Array): string | null {
  if (boot.length < 512 || boot[510] !== 0x55 || boot[511] !== 0xaa) return null;
  const fsType = new TextDecoder().decode(boot.subarray(54, 62));
  if (!/^FAT1[26]/.test(fsType) || boot[38] !== 0x29) return null;
  return new TextDecoder().decode(boot.subarray(43, 54)).trim();
}

/** Root-directory files of a FAT12/16 image; throws on anything else. */
export function readFatRoot(img: Uint8Array, maxFileBytes = 1 << 20): FatVolume {
  const label = fatLabel(img);
  if (label === null) throw new Error("not a FAT12/16 filesystem");
  const v = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const bps = v.getUint16(11, true);
  const spc = img[13];
  const reserved = v.getUint16(14, true);
  const fats = img[16];
  const rootEntries = v.getUint16(17, true);
  const total = v.getUint16(19, true) || v.getUint32(32, true);
  const fatSectors = v.getUint16(22, true);
  const fatStart = reserved * bps;
  const rootStart = (reserved + fats * fatSectors) * bps;
  const dataStart = rootStart + Math.ceil((rootEntries * 32) / bps) * bps;
  const clusters = Math.floor((total * bps - dataStart) / (spc * bps));
  const fat12 = clusters < 4085;
  const next = (c: number): number => {
    if (fat12) {
      const at = fatStart + Math.floor(c * 1.5);
      const w = v.getUint16(at, true);
      return c % 2 === 0 ? w & 0xfff : w >> 4;
    }
    return v.getUint16(fatStart + c * 2, true);
  };
  const end = fat12 ? 0xff8 : 0xfff8;
  const files = new Map<string, Uint8Array>();
  let lfn: string[] = [];
  for (let i = 0; i < rootEntries; i++) {
    const e = rootStart + i * 32;
    if (img[e] === 0) break;
    if (img[e] === 0xe5) {
      lfn = [];
      continue;
    }
    const attr = img[e + 11];
    if (attr === 0x0f) {
      const seq = img[e] & 0x1f;
      const units = [
        ...range(e + 1, 5),
        ...range(e + 14, 6),
        ...range(e + 28, 2),
      ].map((o) => v.getUint16(o, true));
      const stop = units.findIndex((u) => u === 0 || u === 0xffff);
      lfn[seq - 1] = String.fromCharCode(...(stop < 0 ? units : units.slice(0, stop)));
      continue;
    }
    if (attr & 0x18) { // volume label or directory
      lfn = [];
      continue;
    }
    const short = new TextDecoder().decode(img.subarray(e, e + 8)).trim() +
      (img.subarray(e + 8, e + 11).some((b) => b !== 0x20)
        ? "." + new TextDecoder().decode(img.subarray(e + 8, e + 11)).trim()
        : "");
    const name = lfn.length > 0 ? lfn.join("") : short.toLowerCase();
    lfn = [];
    const size = v.getUint32(e + 28, true);
    if (size > maxFileBytes) throw new Error(`${name}: ${size} bytes is too large`);
    const out = new Uint8Array(size);
    let cluster = v.getUint16(e + 26, true);
    let got = 0;
    const clusterBytes = spc * bps;
    while (got < size && cluster >= 2 && cluster < end) {
      const off = dataStart + (cluster - 2) * clusterBytes;
      const n = Math.min(clusterBytes, size - got);
      out.set(img.subarray(off, off + n), got);
      got += n;
      cluster = next(cluster);
    }
    if (got !== size) throw new Error(`${name}: cluster chain ends after ${got} of ${size} bytes`);
    files.set(name, out);
  }
  return { label, files };
}

function range(start: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + i * 2);
}
