/**
 * Just enough ELF to tell a static executable from a dynamic one: the initramfs
 * has no libc, so a dynamically linked busybox or shim would fail at boot with
 * a confusing "not found". Checking here turns that into a build error.
 *
 * @module
 */

/** What {@linkcode elfInfo} found. */
export type ElfInfo =
  | { elf: false }
  | { elf: true; interpreter: string | null; machine: number };

const PT_INTERP = 3;

/** Reads the ELF header and program headers of `data`. */
export function elfInfo(data: Uint8Array): ElfInfo {
  if (data.length < 64 || data[0] !== 0x7f || data[1] !== 0x45 || data[2] !== 0x4c) {
    return { elf: false };
  }
  if (data[3] !== 0x46 || data[4] !== 2 || data[5] !== 1) return { elf: false }; // 64-bit LE only
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const machine = view.getUint16(18, true);
  const phoff = Number(view.getBigUint64(32, true));
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 56 > data.length) break;
    if (view.getUint32(at, true) !== PT_INTERP) continue;
    const offset = Number(view.getBigUint64(at + 8, true));
    const size = Number(view.getBigUint64(at + 32, true));
    const raw = data.subarray(offset, Math.min(offset + size, data.length));
    const end = raw.indexOf(0);
    return {
      elf: true,
      machine,
      interpreter: new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end)),
    };
  }
  return { elf: true, machine, interpreter: null };
}

/** A one-line reason why `data` cannot run as a static program in the guest, or null. */
export function staticProblem(data: Uint8Array): string | null {
  const info = elfInfo(data);
  if (!info.elf) return "is not a 64-bit ELF executable";
  if (info.interpreter !== null) {
    return `is dynamically linked (needs ${info.interpreter}) and the initramfs has no libc`;
  }
  return null;
}
