/**
 * Guest RAM as a file beside the migration stream (snapshot format 2): a
 * booted QEMU keeps guest RAM in a shared memfd (args.ts), the snapshot copies
 * it out through /proc/<pid>/fd while the VM is stopped, and a restore maps
 * the copy privately, so N clones of one snapshot share its pages through the
 * page cache and only pay for what each one writes. Snapshots written before
 * (no `qemu-format.json`) carry RAM inside the stream: format 1, still loaded.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";

/** The RAM image inside a snapshot's VMM dir. */
export const RAM_IMAGE_FILE = "guest-ram.bin";
/** Says how the snapshot was taken; absent = format 1 (RAM in the stream). */
export const FORMAT_FILE = "qemu-format.json";
/** What this driver writes: 2 = device state in the stream, RAM in RAM_IMAGE_FILE. */
export const SNAPSHOT_FORMAT = 2;

/** The snapshot format record. */
export interface QemuSnapshotFormat {
  format: number;
  /** Guest RAM size, MiB: a restore with another size is refused. */
  memory_mb?: number;
}

/** Reads `dir/qemu-format.json`: format 1 when absent, refused when unknown or unreadable. */
export async function readFormat(dir: string): Promise<QemuSnapshotFormat> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/${FORMAT_FILE}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { format: 1 };
    throw e;
  }
  let rec: QemuSnapshotFormat;
  try {
    rec = JSON.parse(text);
  } catch {
    throw new VolantError("checksum_mismatch", `${dir}/${FORMAT_FILE} is not JSON`);
  }
  if (rec.format !== 1 && rec.format !== SNAPSHOT_FORMAT) {
    throw new VolantError(
      "conflict",
      `snapshot format ${rec.format} is not one this QEMU driver loads (1, ${SNAPSHOT_FORMAT})`,
    );
  }
  return rec;
}

export async function writeFormat(dir: string, rec: QemuSnapshotFormat): Promise<void> {
  await Deno.writeTextFile(`${dir}/${FORMAT_FILE}`, JSON.stringify(rec) + "\n", { mode: 0o600 });
}

/** QEMU names its memfd after the backend type: the link reads `/memfd:memory-backend-memfd`. */
const MEMFD_LINK = "/memfd:memory-backend-memfd";

/** The /proc path of the guest RAM memfd of QEMU `pid`, or null (booted without one). */
export async function ramFdPath(pid: number): Promise<string | null> {
  const dir = `/proc/${pid}/fd`;
  for await (const e of Deno.readDir(dir)) {
    const link = await Deno.readLink(`${dir}/${e.name}`).catch(() => "");
    if (link.startsWith(MEMFD_LINK)) return `${dir}/${e.name}`;
  }
  return null;
}

const PAGE = 4096;
const CHUNK = 1 << 20;

/**
 * Copies `src` (the stopped guest's RAM) to a new file `dest`, leaving
 * all-zero pages as holes: a guest touches little of its RAM, and the image
 * then costs on disk only what the guest used. Returns the bytes copied.
 */
export async function copySparse(src: string, dest: string): Promise<number> {
  const input = await Deno.open(src, { read: true });
  const out = await Deno.open(dest, { write: true, createNew: true, mode: 0o600 });
  const buf = new Uint8Array(CHUNK);
  let pos = 0;
  try {
    while (true) {
      const n = await readFull(input, buf);
      if (n === 0) break;
      for (let off = 0; off < n; off += PAGE) {
        const page = buf.subarray(off, Math.min(off + PAGE, n));
        if (isZero(page)) continue;
        await out.seek(pos + off, Deno.SeekMode.Start);
        await writeAll(out, page);
      }
      pos += n;
    }
    // The size holds the trailing holes too.
    await out.truncate(pos);
    await out.sync();
    return pos;
  } finally {
    input.close();
    out.close();
  }
}

function isZero(page: Uint8Array): boolean {
  const words = new Uint32Array(page.buffer, page.byteOffset, page.length >> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}

async function readFull(f: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let n = 0;
  while (n < buf.length) {
    const r = await f.read(buf.subarray(n));
    if (r === null) break;
    n += r;
  }
  return n;
}

async function writeAll(f: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await f.write(data.subarray(off));
}

/** Throws unless the image is exactly `memoryMb` MiB (a short file would fault the guest). */
export async function checkImageSize(path: string, memoryMb: number): Promise<void> {
  const st = await Deno.stat(path);
  if (st.size !== memoryMb * 1024 * 1024) {
    throw new VolantError(
      "checksum_mismatch",
      `${path} is ${st.size} bytes, not the guest's ${memoryMb} MiB`,
    );
  }
}
