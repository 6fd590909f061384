/**
 * A small synchronous gzip (RFC 1952) / DEFLATE (RFC 1951) decoder for the
 * manifest on the kernel command line (at most 2 KiB of input). Why not
 * DecompressionStream: its first use in a fresh Deno costs 13-17 ms on the
 * host (web-streams warm-up) and hundreds of ms under TCG, all on kestrel's
 * path to spawning the workload; this decodes the same bytes in well under a
 * millisecond. Output is capped so a crafted value cannot balloon memory.
 *
 * @module
 */

const LBASE = [
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10,
  11,
  13,
  15,
  17,
  19,
  23,
  27,
  31,
  35,
  43,
  51,
  59,
  67,
  83,
  99,
  115,
  131,
  163,
  195,
  227,
  258,
];
const LEXT = [
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  1,
  1,
  1,
  1,
  2,
  2,
  2,
  2,
  3,
  3,
  3,
  3,
  4,
  4,
  4,
  4,
  5,
  5,
  5,
  5,
  0,
];
const DBASE = [
  1,
  2,
  3,
  4,
  5,
  7,
  9,
  13,
  17,
  25,
  33,
  49,
  65,
  97,
  129,
  193,
  257,
  385,
  513,
  769,
  1025,
  1537,
  2049,
  3073,
  4097,
  6145,
  8193,
  12289,
  16385,
  24577,
];
const DEXT = [
  0,
  0,
  0,
  0,
  1,
  1,
  2,
  2,
  3,
  3,
  4,
  4,
  5,
  5,
  6,
  6,
  7,
  7,
  8,
  8,
  9,
  9,
  10,
  10,
  11,
  11,
  12,
  12,
  13,
  13,
];
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** Canonical Huffman code: how many codes of each length, and the symbols in code order. */
interface Huffman {
  counts: Uint16Array;
  symbols: Uint16Array;
}

function huffman(lengths: ArrayLike<number>): Huffman {
  const counts = new Uint16Array(16);
  for (let i = 0; i < lengths.length; i++) counts[lengths[i]]++;
  counts[0] = 0;
  const offs = new Uint16Array(16);
  for (let len = 1; len < 15; len++) offs[len + 1] = offs[len] + counts[len];
  const symbols = new Uint16Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) if (lengths[s] !== 0) symbols[offs[lengths[s]]++] = s;
  return { counts, symbols };
}

function fixedTables(): [Huffman, Huffman] {
  const lit = new Uint8Array(288);
  lit.fill(8, 0, 144);
  lit.fill(9, 144, 256);
  lit.fill(7, 256, 280);
  lit.fill(8, 280, 288);
  return [huffman(lit), huffman(new Uint8Array(30).fill(5))];
}

/** Growable output with a hard cap. */
class Output {
  buf = new Uint8Array(4096);
  len = 0;
  constructor(readonly max: number) {}
  push(b: number): void {
    if (this.len === this.buf.length) {
      if (this.len >= this.max) throw new Error(`inflated data exceeds ${this.max} bytes`);
      const next = new Uint8Array(Math.min(this.buf.length * 2, this.max));
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.len++] = b;
  }
}

/** Raw DEFLATE from `data[start..]`; returns the output and the byte offset after the last block. */
export function inflateRaw(
  data: Uint8Array,
  start = 0,
  maxOutput = 4 << 20,
): { bytes: Uint8Array; end: number } {
  let p = start;
  let bitbuf = 0;
  let bitcnt = 0;
  const bits = (n: number): number => {
    while (bitcnt < n) {
      if (p >= data.length) throw new Error("deflate data ends early");
      bitbuf |= data[p++] << bitcnt;
      bitcnt += 8;
    }
    const v = bitbuf & ((1 << n) - 1);
    bitbuf >>>= n;
    bitcnt -= n;
    return v;
  };
  const decode = (h: Huffman): number => {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len < 16; len++) {
      code |= bits(1);
      const count = h.counts[len];
      if (code - first < count) return h.symbols[index + code - first];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new Error("invalid Huffman code");
  };
  const out = new Output(maxOutput);
  let last = 0;
  while (!last) {
    last = bits(1);
    const type = bits(2);
    if (type === 0) {
      bitbuf = 0; // a stored block starts at the next byte boundary
      bitcnt = 0;
      if (p + 4 > data.length) throw new Error("deflate data ends early");
      const len = data[p] | (data[p + 1] << 8);
      const nlen = data[p + 2] | (data[p + 3] << 8);
      if ((len ^ 0xffff) !== nlen) throw new Error("stored block length check failed");
      p += 4;
      if (p + len > data.length) throw new Error("deflate data ends early");
      for (let i = 0; i < len; i++) out.push(data[p++]);
      continue;
    }
    let lit: Huffman;
    let dist: Huffman;
    if (type === 1) {
      [lit, dist] = fixedTables();
    } else if (type === 2) {
      const nlen = bits(5) + 257;
      const ndist = bits(5) + 1;
      const ncode = bits(4) + 4;
      const cl = new Uint8Array(19);
      for (let i = 0; i < ncode; i++) cl[CL_ORDER[i]] = bits(3);
      const clh = huffman(cl);
      const lengths = new Uint8Array(nlen + ndist);
      for (let i = 0; i < nlen + ndist;) {
        const sym = decode(clh);
        if (sym < 16) {
          lengths[i++] = sym;
          continue;
        }
        let rep: number;
        let val = 0;
        if (sym === 16) {
          if (i === 0) throw new Error("repeat with no previous length");
          val = lengths[i - 1];
          rep = 3 + bits(2);
        } else if (sym === 17) rep = 3 + bits(3);
        else rep = 11 + bits(7);
        if (i + rep > nlen + ndist) throw new Error("too many code lengths");
        while (rep--) lengths[i++] = val;
      }
      lit = huffman(lengths.subarray(0, nlen));
      dist = huffman(lengths.subarray(nlen));
    } else {
      throw new Error("invalid deflate block type");
    }
    for (;;) {
      const sym = decode(lit);
      if (sym < 256) {
        out.push(sym);
        continue;
      }
      if (sym === 256) break;
      const li = sym - 257;
      if (li >= 29) throw new Error("invalid length symbol");
      const len = LBASE[li] + bits(LEXT[li]);
      const di = decode(dist);
      if (di >= 30) throw new Error("invalid distance symbol");
      const d = DBASE[di] + bits(DEXT[di]);
      if (d > out.len) throw new Error("distance too far back");
      for (let i = 0; i < len; i++) out.push(out.buf[out.len - d]);
    }
  }
  return { bytes: out.buf.slice(0, out.len), end: p };
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (IEEE 802.3), as in the gzip trailer. */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Decodes one gzip member, checking its CRC-32 and length; throws on anything malformed. */
export function gunzip(data: Uint8Array, maxOutput = 4 << 20): Uint8Array {
  if (data.length < 18 || data[0] !== 0x1f || data[1] !== 0x8b || data[2] !== 8) {
    throw new Error("not gzip data");
  }
  const flags = data[3];
  let p = 10;
  if (flags & 4) p += 2 + (data[p] | (data[p + 1] << 8)); // FEXTRA
  if (flags & 8) { while (p < data.length && data[p++] !== 0); // FNAME
   }
  if (flags & 16) { while (p < data.length && data[p++] !== 0); // FCOMMENT
   }
  if (flags & 2) p += 2; // FHCRC
  const { bytes, end } = inflateRaw(data, p, maxOutput);
  if (end + 8 > data.length) throw new Error("gzip trailer missing");
  const v = new DataView(data.buffer, data.byteOffset + end, 8);
  if (v.getUint32(0, true) !== crc32(bytes)) throw new Error("gzip CRC mismatch");
  if (v.getUint32(4, true) !== (bytes.length >>> 0)) throw new Error("gzip length mismatch");
  return bytes;
}
