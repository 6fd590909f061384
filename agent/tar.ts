/**
 * A small streaming tar (POSIX ustar + pax long names) for file copies:
 * {@linkcode tarEntries} writes a tree without following symlinks (they are
 * stored as symlinks), {@linkcode untarEntries} reads the archives GNU tar and
 * busybox tar write (ustar, pax `x`, GNU `L`/`K` long names). Pure byte
 * handling; the file system side is files.ts.
 *
 * @module
 */

/** One archive member as read or to be written. */
export interface TarHeader {
  /** Relative path, `/`-separated, no leading `/`. */
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  mode: number;
  size: number;
  mtime: number;
  linkname: string;
}

const BLOCK = 512;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function octal(buf: Uint8Array, off: number, len: number, value: number): void {
  const s = value.toString(8).padStart(len - 1, "0");
  buf.set(encoder.encode(s.slice(-(len - 1))), off);
  buf[off + len - 1] = 0;
}

function text(buf: Uint8Array, off: number, len: number, value: string): void {
  buf.set(encoder.encode(value).subarray(0, len), off);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + encoder.encode(body).length !== len) {
    len = String(len).length + encoder.encode(body).length;
  }
  return `${len}${body}`;
}

function rawHeader(h: TarHeader, name: string, link: string, typeflag: string): Uint8Array {
  const b = new Uint8Array(BLOCK);
  text(b, 0, 100, name);
  octal(b, 100, 8, h.mode & 0o7777);
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  octal(b, 124, 12, h.size);
  octal(b, 136, 12, Math.max(0, Math.floor(h.mtime)));
  b.fill(0x20, 148, 156); // checksum computed with spaces here
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

/** The header block(s) for `h`: a pax record first when a name does not fit ustar. */
export function encodeHeader(h: TarHeader): Uint8Array {
  const flag = h.type === "dir" ? "5" : h.type === "symlink" ? "2" : "0";
  const name = h.type === "dir" && !h.path.endsWith("/") ? `${h.path}/` : h.path;
  const long = encoder.encode(name).length > 100 || encoder.encode(h.linkname).length > 100;
  const main = rawHeader(h, long ? name.slice(0, 99) : name, h.linkname.slice(0, 100), flag);
  if (!long) return main;
  const records = encoder.encode(paxRecord("path", name) + paxRecord("linkpath", h.linkname));
  const pax = rawHeader(
    { ...h, size: records.length, mode: 0o644 },
    "PaxHeader",
    "",
    "x",
  );
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

/** Reads exactly `n` bytes from a stream, keeping leftovers for the next call. */
export class ExactReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);
  /** Bytes consumed so far (progress). */
  consumed = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Up to `max` bytes (at least 1), or null at the end of the stream. */
  async some(max: number): Promise<Uint8Array | null> {
    if (this.#buf.length === 0) {
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#buf = value;
    }
    const n = Math.min(max, this.#buf.length);
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    this.consumed += n;
    return out;
  }

  /** Exactly `n` bytes; throws on a short stream. */
  async exact(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = await this.some(n - at);
      if (chunk === null) throw new Error(`tar: archive truncated (wanted ${n - at} more bytes)`);
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  release(): void {
    this.#reader.releaseLock();
  }
}

function field(b: Uint8Array, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const end = s.indexOf(0);
  return decoder.decode(end === -1 ? s : s.subarray(0, end));
}

function num(b: Uint8Array, off: number, len: number): number {
  if (b[off] & 0x80) { // GNU base-256 for large values
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = field(b, off, len).trim();
  return s === "" ? 0 : parseInt(s, 8);
}

function parsePax(records: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of records.split("\n")) {
    const m = /^\d+ ([^=]+)=(.*)$/s.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/**
 * Reads headers; for each member calls `onEntry` with a reader of exactly its
 * data (which the callback may leave unread: the rest is skipped).
 */
export async function untarEntries(
  input: ExactReader,
  onEntry: (
    h: TarHeader,
    data: (sink: (chunk: Uint8Array) => Promise<void>) => Promise<void>,
  ) => Promise<void>,
): Promise<number> {
  let count = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  while (true) {
    const block = await input.exact(BLOCK);
    if (block.every((x) => x === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
    if (sum !== num(block, 148, 8)) throw new Error("tar: bad header checksum");
    const flag = String.fromCharCode(block[156] || 0x30);
    const size = num(block, 124, 12);
    const meta = async () => decoder.decode(await input.exact(padded(size))).slice(0, size);
    if (flag === "x") {
      pax = { ...pax, ...parsePax(await meta()) };
      continue;
    }
    if (flag === "g") {
      await meta();
      continue;
    }
    if (flag === "L") {
      longName = (await meta()).replace(/\0+$/, "");
      continue;
    }
    if (flag === "K") {
      longLink = (await meta()).replace(/\0+$/, "");
      continue;
    }
    const prefix = field(block, 345, 155);
    const base = field(block, 0, 100);
    const path = pax.path ?? longName ?? (prefix ? `${prefix}/${base}` : base);
    const h: TarHeader = {
      path: path.replace(/\/+$/, ""),
      type: flag === "0" || flag === "7"
        ? "file"
        : flag === "5"
        ? "dir"
        : flag === "2"
        ? "symlink"
        : "other",
      mode: num(block, 100, 8),
      size: pax.size !== undefined ? Number(pax.size) : size,
      mtime: num(block, 136, 12),
      linkname: pax.linkpath ?? longLink ?? field(block, 157, 100),
    };
    pax = {};
    longName = undefined;
    longLink = undefined;
    let left = h.type === "dir" || h.type === "symlink" ? 0 : h.size;
    const dataSize = left;
    const data = async (sink: (chunk: Uint8Array) => Promise<void>) => {
      while (left > 0) {
        const chunk = await input.some(Math.min(left, 1 << 16));
        if (chunk === null) throw new Error("tar: archive truncated inside a member");
        left -= chunk.length;
        await sink(chunk);
      }
    };
    await onEntry(h, data);
    await data(() => Promise.resolve()); // skip what the callback did not read
    await input.exact(padded(dataSize) - dataSize);
    count++;
  }
  return count;
}
