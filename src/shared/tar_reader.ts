/**
 * A push parser for tar streams as image layers use them: ustar, POSIX PAX
 * (`x` per-entry and `g` global records: path, linkpath, size, uid, gid,
 * mtime, `SCHILY.xattr.*`), GNU long names (`L`, `K`) and GNU base-256
 * numbers. Header checksums are verified. Synchronous: the caller feeds
 * chunks as they arrive and receives each entry's data as slices of them.
 *
 * @module
 */
import { VolantError } from "../errors.ts";

/** Entry types we hand on. */
export type TarType = "file" | "hardlink" | "symlink" | "char" | "block" | "dir" | "fifo";

/** One entry's metadata, PAX/GNU overrides applied. */
export interface TarHeader {
  path: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (PAX fractional part dropped). */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from PAX `SCHILY.xattr.<name>` records, raw bytes. */
  xattrs: Map<string, Uint8Array>;
}

/** Receives an entry's data; `end` after the last byte. */
export interface EntrySink {
  write(chunk: Uint8Array): void;
  end(): void;
}

const TYPES: Record<string, TarType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
};

const dec = new TextDecoder();

function str(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return dec.decode(b.subarray(off, end));
}

function num(b: Uint8Array, off: number, len: number, what: string): number {
  if (b[off] & 0x80) {
    // GNU base-256: big-endian, first byte's top bit is the marker.
    let v = b[off] & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i];
    if ((b[off] & 0x40) !== 0) throw new VolantError("invalid_input", `tar: negative ${what}`);
    return v;
  }
  const s = str(b, off, len).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new VolantError("invalid_input", `tar: bad ${what} field "${s}"`);
  return parseInt(s, 8);
}

function checksumOk(b: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[i];
  return num(b, 148, 8, "checksum") === sum;
}

/** Parses PAX records `"<len> <key>=<value>\n"`; values are kept as bytes (xattrs may be binary). */
export function parsePax(data: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let i = 0;
  while (i < data.length) {
    let sp = i;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = Number(dec.decode(data.subarray(i, sp)));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) {
      throw new VolantError("invalid_input", "tar: malformed PAX record");
    }
    const rec = data.subarray(sp + 1, i + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new VolantError("invalid_input", "tar: PAX record without '='");
    out.set(dec.decode(rec.subarray(0, eq)), rec.subarray(eq + 1).slice());
    i += len;
  }
  return out;
}

type State = "header" | "data" | "meta" | "pad" | "done";

/** The push parser. `onEntry` returns a sink for the entry's data (or null to skip it). */
export class TarReader {
  readonly #onEntry: (h: TarHeader) => EntrySink | null;
  #state: State = "header";
  #hdr = new Uint8Array(512);
  #hdrFill = 0;
  #left = 0;
  #pad = 0;
  #sink: EntrySink | null = null;
  #meta: Uint8Array = new Uint8Array(0);
  #metaFill = 0;
  #metaType = "";
  #pax = new Map<string, Uint8Array>();
  #global = new Map<string, Uint8Array>();
  #longName: string | undefined;
  #longLink: string | undefined;
  #zeroBlocks = 0;
  /** Bytes consumed so far (for archive indexing). */
  offset = 0;

  constructor(onEntry: (h: TarHeader) => EntrySink | null) {
    this.#onEntry = onEntry;
  }

  /** True once the end-of-archive marker (two zero blocks) was seen. */
  get done(): boolean {
    return this.#state === "done";
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length && this.#state !== "done") {
      switch (this.#state) {
        case "header": {
          const n = Math.min(512 - this.#hdrFill, chunk.length - i);
          this.#hdr.set(chunk.subarray(i, i + n), this.#hdrFill);
          this.#hdrFill += n;
          i += n;
          this.offset += n;
          if (this.#hdrFill === 512) {
            this.#hdrFill = 0;
            this.#header();
          }
          break;
        }
        case "data": {
          const n = Math.min(this.#left, chunk.length - i);
          this.#sink?.write(chunk.subarray(i, i + n));
          this.#left -= n;
          i += n;
          this.offset += n;
          if (this.#left === 0) {
            this.#sink?.end();
            this.#sink = null;
            this.#state = this.#pad > 0 ? "pad" : "header";
          }
          break;
        }
        case "meta": {
          const n = Math.min(this.#left, chunk.length - i);
          this.#meta.set(chunk.subarray(i, i + n), this.#metaFill);
          this.#metaFill += n;
          this.#left -= n;
          i += n;
          this.offset += n;
          if (this.#left === 0) {
            this.#metaDone();
            this.#state = this.#pad > 0 ? "pad" : "header";
          }
          break;
        }
        case "pad": {
          const n = Math.min(this.#pad, chunk.length - i);
          this.#pad -= n;
          i += n;
          this.offset += n;
          if (this.#pad === 0) this.#state = "header";
          break;
        }
      }
    }
  }

  /** Call after the last chunk: a truncated archive is an error. */
  end(): void {
    if (this.#state === "done") return;
    if (this.#state === "header" && this.#hdrFill === 0) return; // no end marker: tolerated
    throw new VolantError("invalid_input", "tar: archive is truncated");
  }

  #header(): void {
    const b = this.#hdr;
    if (b.every((x) => x === 0)) {
      if (++this.#zeroBlocks === 2) this.#state = "done";
      return;
    }
    this.#zeroBlocks = 0;
    if (!checksumOk(b)) throw new VolantError("invalid_input", "tar: header checksum mismatch");
    const flag = String.fromCharCode(b[156]);
    const size = num(b, 124, 12, "size");
    this.#pad = (512 - (size % 512)) % 512;
    if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
      if (size > 16 << 20) {
        throw new VolantError("invalid_input", "tar: metadata entry over 16 MiB");
      }
      this.#meta = new Uint8Array(size);
      this.#metaFill = 0;
      this.#metaType = flag;
      this.#left = size;
      if (size === 0) this.#metaDone();
      this.#state = size === 0 ? (this.#pad > 0 ? "pad" : "header") : "meta";
      return;
    }
    const type = TYPES[flag];
    if (type === undefined) {
      throw new VolantError(
        "invalid_input",
        `tar: entry type '${flag}' is not supported (sparse or vendor)`,
      );
    }
    const magic = str(b, 257, 6);
    const prefix = magic.startsWith("ustar") ? str(b, 345, 155) : "";
    let path = this.#longName ?? (prefix ? `${prefix}/${str(b, 0, 100)}` : str(b, 0, 100));
    let linkname = this.#longLink ?? str(b, 157, 100);
    const h: TarHeader = {
      path,
      type,
      mode: num(b, 100, 8, "mode") & 0o7777,
      uid: num(b, 108, 8, "uid"),
      gid: num(b, 116, 8, "gid"),
      size,
      mtime: num(b, 136, 12, "mtime"),
      linkname,
      devmajor: type === "char" || type === "block" ? num(b, 329, 8, "devmajor") : 0,
      devminor: type === "char" || type === "block" ? num(b, 337, 8, "devminor") : 0,
      xattrs: new Map(),
    };
    for (const pax of [this.#global, this.#pax]) {
      for (const [k, v] of pax) {
        const text = () => dec.decode(v);
        if (k === "path") path = h.path = text();
        else if (k === "linkpath") linkname = h.linkname = text();
        else if (k === "size") h.size = Number(text());
        else if (k === "uid") h.uid = Number(text());
        else if (k === "gid") h.gid = Number(text());
        else if (k === "mtime") h.mtime = Math.floor(Number(text()));
        else if (k.startsWith("SCHILY.xattr.")) h.xattrs.set(k.slice(13), v);
      }
    }
    this.#pax = new Map();
    this.#longName = this.#longLink = undefined;
    if (!Number.isSafeInteger(h.size) || h.size < 0) {
      throw new VolantError("invalid_input", `tar: ${path}: bad size`);
    }
    // Only regular files carry data; a hardlink's size field (if any) is data too in some writers.
    const dataSize = h.size;
    this.#pad = (512 - (dataSize % 512)) % 512;
    this.#sink = this.#onEntry(h);
    this.#left = dataSize;
    if (dataSize === 0) {
      this.#sink?.end();
      this.#sink = null;
      this.#state = "header";
    } else this.#state = "data";
  }

  #metaDone(): void {
    const data = this.#meta.subarray(0, this.#metaFill);
    if (this.#metaType === "x") this.#pax = parsePax(data);
    else if (this.#metaType === "g") {
      for (const [k, v] of parsePax(data)) {
        this.#global.set(k, v);
      }
    } else if (this.#metaType === "L") this.#longName = str(data, 0, data.length);
    else this.#longLink = str(data, 0, data.length);
  }
}
