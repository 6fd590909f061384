/**
 * The minisign file formats (public key, signature), as minisign 0.11 reads
 * and writes them. Pure: text in, structures out, and back. Every refusal is
 * a `VolantError("invalid_input")` naming the file kind and what is wrong.
 *
 * Public key: `untrusted comment: ...` then base64(`Ed` || key id[8] || pk[32]).
 * Signature:  `untrusted comment: ...`, base64(alg[2] || key id[8] || sig[64]),
 *             `trusted comment: ...`, base64(global sig[64]). `ED` signs
 *             BLAKE2b-512(file), legacy `Ed` signs the file itself; the global
 *             signature covers sig || trusted comment.
 *
 * @module
 */
import { VolantError } from "../errors.ts";

export const UNTRUSTED_PREFIX = "untrusted comment: ";
export const TRUSTED_PREFIX = "trusted comment: ";
/** minisign's limits (COMMENTMAXBYTES, TRUSTEDCOMMENTMAXBYTES), minus the line end. */
export const MAX_COMMENT_BYTES = 1024 - 2;
export const MAX_TRUSTED_COMMENT_BYTES = 8192 - 2;

/** `ED` (BLAKE2b-512 prehashed, minisign's default) or legacy `Ed` (the whole file). */
export type SignatureAlgorithm = "Ed" | "ED";

export interface MinisignPublicKey {
  /** 8 bytes, as stored. */
  keyId: Uint8Array;
  /** 32 bytes. */
  publicKey: Uint8Array;
  /** The untrusted comment (empty when parsed from a bare base64 line). */
  comment: string;
}

export interface MinisignSignature {
  algorithm: SignatureAlgorithm;
  keyId: Uint8Array;
  /** 64 bytes over the file (or its BLAKE2b-512 for `ED`). */
  signature: Uint8Array;
  untrustedComment: string;
  trustedComment: string;
  /** 64 bytes over signature || trusted comment. */
  globalSignature: Uint8Array;
}

/** An invalid_input error naming the kind of file (`field`). */
export function formatError(field: string, message: string): VolantError {
  return new VolantError("invalid_input", `${field}: ${message}`, {
    problems: [{ field, message }],
  });
}

/** The key id as minisign prints it: the 8 bytes as a little-endian u64, upper-case hex. */
export function keyIdHex(keyId: Uint8Array): string {
  return [...keyId].reverse().map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}

/** The key id as minisign's own comments print it (`%" PRIX64`: no leading zeros). */
export function keyIdComment(keyId: Uint8Array): string {
  return keyIdHex(keyId).replace(/^0+(?=.)/, "");
}

/** Strict base64 of exactly `length` bytes (padding required, no whitespace). */
export function decodeBase64(
  text: string,
  length: number,
  field: string,
  what: string,
): Uint8Array {
  if (text.length === 0) throw formatError(field, `${what} is empty`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw formatError(field, `${what} is not valid base64`);
  }
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.fromBase64(text, { lastChunkHandling: "strict" });
  } catch (cause) {
    if (!(cause instanceof SyntaxError)) throw cause;
    throw formatError(field, `${what} is not valid base64`);
  }
  if (bytes.length !== length) {
    throw formatError(field, `${what} decodes to ${bytes.length} bytes, expected ${length}`);
  }
  return bytes;
}

/** The file's lines without line ends (`\n` or `\r\n`); one trailing empty line dropped. */
export function splitLines(text: string): string[] {
  const lines = text.split("\n").map((l) => l.endsWith("\r") ? l.slice(0, -1) : l);
  if (lines.length > 1 && lines.at(-1) === "") lines.pop();
  return lines;
}

function bytesOf(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Refuses comments minisign could not write or read back (line breaks, over-long). */
export function checkComment(comment: string, field: string, max: number, what: string): void {
  if (/[\r\n]/.test(comment)) throw formatError(field, `${what} must be one line`);
  if (bytesOf(comment) > max) throw formatError(field, `${what} is longer than ${max} bytes`);
}

function algorithmOf(bytes: Uint8Array): string {
  return String.fromCharCode(bytes[0], bytes[1]);
}

function describeAlgorithm(bytes: Uint8Array): string {
  const printable = bytes[0] >= 0x20 && bytes[0] < 0x7f && bytes[1] >= 0x20 && bytes[1] < 0x7f;
  return printable
    ? JSON.stringify(algorithmOf(bytes))
    : `0x${bytes[0].toString(16)}${bytes[1].toString(16)}`;
}

/**
 * Parses a public key: a minisign `.pub` file, or the bare base64 line
 * (what `minisign -P` takes).
 */
export function parsePublicKey(text: string, field = "public_key"): MinisignPublicKey {
  const lines = splitLines(text.trim());
  let comment = "";
  let b64: string;
  if (lines.length === 1) {
    b64 = lines[0];
  } else if (lines.length === 2) {
    if (!lines[0].startsWith(UNTRUSTED_PREFIX)) {
      throw formatError(field, `first line must start with "${UNTRUSTED_PREFIX}"`);
    }
    comment = lines[0].slice(UNTRUSTED_PREFIX.length);
    b64 = lines[1];
  } else {
    throw formatError(field, `expected 2 lines (comment, key), got ${lines.length}`);
  }
  const raw = decodeBase64(b64, 42, field, "public key");
  if (algorithmOf(raw.subarray(0, 2)) !== "Ed") {
    throw formatError(field, `unsupported key algorithm ${describeAlgorithm(raw)} (expected "Ed")`);
  }
  return { keyId: raw.slice(2, 10), publicKey: raw.slice(10, 42), comment };
}

/** The public key's base64 line (what `minisign -P` takes). */
export function publicKeyBase64(key: MinisignPublicKey): string {
  const raw = new Uint8Array(42);
  raw.set([0x45, 0x64]); // "Ed"
  raw.set(key.keyId, 2);
  raw.set(key.publicKey, 10);
  return raw.toBase64();
}

/** A `.pub` file as minisign writes it. */
export function formatPublicKey(key: MinisignPublicKey): string {
  const comment = key.comment || `minisign public key ${keyIdComment(key.keyId)}`;
  checkComment(comment, "public_key", MAX_COMMENT_BYTES, "untrusted comment");
  return `${UNTRUSTED_PREFIX}${comment}\n${publicKeyBase64(key)}\n`;
}

/** Parses a `.minisig` file. */
export function parseSignature(text: string, field = "signature"): MinisignSignature {
  const lines = splitLines(text);
  while (lines.length > 4 && lines.at(-1) === "") lines.pop();
  if (lines.length !== 4) {
    throw formatError(
      field,
      `expected 4 lines (untrusted comment, signature, trusted comment, global signature), got ${lines.length}`,
    );
  }
  const [untrusted, sigLine, trusted, globalLine] = lines;
  if (!untrusted.startsWith(UNTRUSTED_PREFIX)) {
    throw formatError(field, `line 1 must start with "${UNTRUSTED_PREFIX}"`);
  }
  if (!trusted.startsWith(TRUSTED_PREFIX)) {
    throw formatError(field, `line 3 must start with "${TRUSTED_PREFIX}"`);
  }
  const untrustedComment = untrusted.slice(UNTRUSTED_PREFIX.length);
  const trustedComment = trusted.slice(TRUSTED_PREFIX.length);
  checkComment(untrustedComment, field, MAX_COMMENT_BYTES, "untrusted comment");
  checkComment(trustedComment, field, MAX_TRUSTED_COMMENT_BYTES, "trusted comment");
  const raw = decodeBase64(sigLine.trim(), 74, field, "signature");
  const alg = algorithmOf(raw);
  if (alg !== "Ed" && alg !== "ED") {
    throw formatError(
      field,
      `unsupported signature algorithm ${describeAlgorithm(raw)} (expected "ED" or "Ed")`,
    );
  }
  return {
    algorithm: alg,
    keyId: raw.slice(2, 10),
    signature: raw.slice(10, 74),
    untrustedComment,
    trustedComment,
    globalSignature: decodeBase64(globalLine.trim(), 64, field, "global signature"),
  };
}

/** A `.minisig` file as minisign writes it. */
export function formatSignature(sig: MinisignSignature): string {
  checkComment(sig.untrustedComment, "signature", MAX_COMMENT_BYTES, "untrusted comment");
  checkComment(sig.trustedComment, "signature", MAX_TRUSTED_COMMENT_BYTES, "trusted comment");
  const raw = new Uint8Array(74);
  raw.set([sig.algorithm.charCodeAt(0), sig.algorithm.charCodeAt(1)]);
  raw.set(sig.keyId, 2);
  raw.set(sig.signature, 10);
  return `${UNTRUSTED_PREFIX}${sig.untrustedComment}\n${raw.toBase64()}\n` +
    `${TRUSTED_PREFIX}${sig.trustedComment}\n${sig.globalSignature.toBase64()}\n`;
}

/**
 * A trusted comment's tab-separated `key:value` fields (minisign writes
 * `timestamp:N<TAB>file:NAME<TAB>hashed`); bare words map to "".
 */
export function trustedFields(comment: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of comment.split("\t")) {
    if (part === "") continue;
    const i = part.indexOf(":");
    if (i < 0) out.set(part, "");
    else if (!out.has(part.slice(0, i))) out.set(part.slice(0, i), part.slice(i + 1));
  }
  return out;
}
