/**
 * Tar header encoding (POSIX ustar, with a pax `x` record first when a name
 * or link target does not fit): the writing half beside `tar_reader.ts`.
 * Pure byte handling; callers stream the member data themselves, padded to
 * whole blocks with {@linkcode padded}, and end with {@linkcode TAR_END}.
 *
 * @module
 */

/** What the writer needs of one member. */
export interface TarMember {
  /** Relative path, `/`-separated, no leading `/`. */
  path: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname: string;
}

const BLOCK = 512;
const encoder = new TextEncoder();

function octal(buf: Uint8Array, off: number, len: number, value: number): void {
  const s = value.toString(8).padStart(len - 1, "0");
  buf.set(encoder.encode(s.slice(-(len - 1))), off);
  buf[off + len - 1] = 0;
}

function text(buf: Uint8Array, off: number, len: number, value: string): void {
  buf.set(encoder.encode(value).subarray(0, len), off);
}

/** One pax record, `"<len> <key>=<value>\n"`, where `<len>` counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = encoder.encode(body).length;
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return `${len}${body}`;
}

function rawHeader(m: TarMember, name: string, link: string, typeflag: string): Uint8Array {
  const b = new Uint8Array(BLOCK);
  text(b, 0, 100, name);
  octal(b, 100, 8, m.mode & 0o7777);
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  octal(b, 124, 12, m.size);
  octal(b, 136, 12, Math.max(0, Math.floor(m.mtime)));
  b.fill(0x20, 148, 156); // the checksum is computed with spaces in its own field
  b[156] = typeflag.charCodeAt(0);
  text(b, 157, 100, link);
  text(b, 257, 6, "ustar\0");
  text(b, 263, 2, "00");
  let sum = 0;
  for (const x of b) sum += x;
  octal(b, 148, 7, sum);
  b[155] = 0x20;
  return b;
}

/** The header block(s) for `m`: a pax record first when a name does not fit ustar. */
export function encodeHeader(m: TarMember): Uint8Array {
  const flag = m.type === "dir" ? "5" : m.type === "symlink" ? "2" : "0";
  const name = m.type === "dir" && !m.path.endsWith("/") ? `${m.path}/` : m.path;
  const long = encoder.encode(name).length > 100 || encoder.encode(m.linkname).length > 100;
  const main = rawHeader(m, long ? name.slice(0, 99) : name, m.linkname.slice(0, 100), flag);
  if (!long) return main;
  const records = encoder.encode(paxRecord("path", name) + paxRecord("linkpath", m.linkname));
  const pax = rawHeader({ ...m, size: records.length, mode: 0o644 }, "PaxHeader", "", "x");
  const out = new Uint8Array(BLOCK * 2 + padded(records.length));
  out.set(pax, 0);
  out.set(records, BLOCK);
  out.set(main, BLOCK + padded(records.length));
  return out;
}

/** `n` rounded up to whole blocks. */
export function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/** The two zero blocks that end an archive. */
export const TAR_END = new Uint8Array(BLOCK * 2);
