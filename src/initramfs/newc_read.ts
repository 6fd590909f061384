/**
 * A minimal newc reader: parses headers back into fields. Used by tests (written
 * separately from fledge's writer so golden tests do not just mirror it) and by
 * volantd, which looks inside installed initramfs images (src/initramfs/contract.ts).
 *
 * @module
 */

/** One parsed newc record. */
export interface NewcRecord {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevMajor: number;
  rdevMinor: number;
  name: string;
  data: Uint8Array;
}

/** Parses every record of a newc archive, the trailer included. */
export function readNewc(bytes: Uint8Array): NewcRecord[] {
  const dec = new TextDecoder();
  const out: NewcRecord[] = [];
  let at = 0;
  const align = (n: number) => (n + 3) & ~3;
  while (at < bytes.length) {
    const head = dec.decode(bytes.subarray(at, at + 110));
    if (!head.startsWith("070701")) throw new Error(`bad magic at ${at}: ${head.slice(0, 6)}`);
    const f = (i: number) => parseInt(head.slice(6 + i * 8, 14 + i * 8), 16);
    const namesize = f(11);
    const filesize = f(6);
    const name = dec.decode(bytes.subarray(at + 110, at + 110 + namesize - 1));
    const dataAt = align(at + 110 + namesize);
    out.push({
      ino: f(0),
      mode: f(1),
      uid: f(2),
      gid: f(3),
      nlink: f(4),
      mtime: f(5),
      rdevMajor: f(9),
      rdevMinor: f(10),
      name,
      data: bytes.slice(dataAt, dataAt + filesize),
    });
    at = align(dataAt + filesize);
    if (name === "TRAILER!!!") break;
  }
  return out;
}
