/**
 * minisign secret-key files (`minisign.key`), as minisign 0.11 writes them:
 *
 * ```
 * untrusted comment: <comment>
 * base64( "Ed" | kdf "Sc" or 00 00 | "B2" | salt[32] | opslimit u64le | memlimit u64le
 *         | key id[8] | secret key[64] (seed || public key) | checksum[32] )
 * ```
 *
 * The checksum is BLAKE2b-256("Ed" || key id || secret key). With kdf `Sc`
 * the last 104 bytes are XORed with scrypt(password, salt) whose N, r, p come
 * from opslimit/memlimit the way libsodium's crypto_pwhash_scryptsalsa208sha256
 * picks them. Unencrypted keys (`minisign -W`) carry kdf 00 00; minisign
 * leaves their checksum zero and never checks it, so a zero checksum is
 * accepted there and any other value must be right.
 *
 * BLAKE2b and scrypt come from @noble/hashes.
 *
 * @module
 */
import { blake2b } from "@noble/hashes/blake2.js";
import { scryptAsync } from "@noble/hashes/scrypt.js";
import { publicKeyOf } from "./ed25519.ts";
import {
  checkComment,
  decodeBase64,
  formatError,
  MAX_COMMENT_BYTES,
  type MinisignPublicKey,
  splitLines,
  UNTRUSTED_PREFIX,
} from "./minisign.ts";

const SECRET_KEY_BYTES = 158;
const KEYNUM_SK_OFFSET = 54;
const KEYNUM_SK_BYTES = 104;
/** What minisign uses (crypto_pwhash_scryptsalsa208sha256_*_SENSITIVE): N = 2^20, r = 8, p = 1. */
export const SENSITIVE_OPSLIMIT = 33554432n;
export const SENSITIVE_MEMLIMIT = 1073741824n;
/** Refuse key files asking for more scrypt memory than this (minisign's own is 1 GiB). */
const MAX_SCRYPT_MEMORY = 2n ** 31n;

/** A decrypted secret key. */
export interface MinisignSecretKey {
  keyId: Uint8Array;
  /** 32-byte Ed25519 seed. */
  seed: Uint8Array;
  /** 32-byte public key. */
  publicKey: Uint8Array;
  comment: string;
}

/** Whether a key file is password-protected, without decrypting it. */
export function secretKeyIsEncrypted(text: string, field = "secret_key"): boolean {
  const raw = decodeSecretKeyFile(text, field).raw;
  return raw[2] === 0x53 && raw[3] === 0x63;
}

function decodeSecretKeyFile(text: string, field: string): { comment: string; raw: Uint8Array } {
  const lines = splitLines(text.trim());
  if (lines.length !== 2) {
    throw formatError(field, `expected 2 lines (comment, key), got ${lines.length}`);
  }
  if (!lines[0].startsWith(UNTRUSTED_PREFIX)) {
    throw formatError(field, `first line must start with "${UNTRUSTED_PREFIX}"`);
  }
  const raw = decodeBase64(lines[1].trim(), SECRET_KEY_BYTES, field, "secret key");
  const tag = (i: number) => String.fromCharCode(raw[i], raw[i + 1]);
  if (tag(0) !== "Ed") throw formatError(field, `unsupported key algorithm "${tag(0)}"`);
  if (tag(4) !== "B2") throw formatError(field, `unsupported checksum algorithm "${tag(4)}"`);
  const kdf = tag(2);
  if (kdf !== "Sc" && !(raw[2] === 0 && raw[3] === 0)) {
    throw formatError(field, `unsupported key derivation function ${JSON.stringify(kdf)}`);
  }
  return { comment: lines[0].slice(UNTRUSTED_PREFIX.length), raw };
}

function readU64(bytes: Uint8Array, offset: number): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigUint64(0, true);
}

/** libsodium's pickparams: scrypt N (as log2), r, p from opslimit and memlimit. */
export function scryptParams(
  opslimit: bigint,
  memlimit: bigint,
): { logN: number; r: number; p: number } {
  const ops = opslimit < 32768n ? 32768n : opslimit;
  const r = 8n;
  let logN = 1n;
  if (ops < memlimit / 32n) {
    const maxN = ops / (r * 4n);
    for (logN = 1n; logN < 63n; logN++) if (1n << logN > maxN / 2n) break;
    return { logN: Number(logN), r: 8, p: 1 };
  }
  const maxN = memlimit / (r * 128n);
  for (logN = 1n; logN < 63n; logN++) if (1n << logN > maxN / 2n) break;
  let maxrp = (ops / 4n) / (1n << logN);
  if (maxrp > 0x3fffffffn) maxrp = 0x3fffffffn;
  return { logN: Number(logN), r: 8, p: Number(maxrp / r) };
}

async function keystream(
  password: string,
  salt: Uint8Array,
  opslimit: bigint,
  memlimit: bigint,
  field: string,
): Promise<Uint8Array> {
  const { logN, r, p } = scryptParams(opslimit, memlimit);
  const memory = 128n * BigInt(r) * ((1n << BigInt(logN)) + BigInt(p));
  if (logN > 24 || p < 1 || memory > MAX_SCRYPT_MEMORY) {
    throw formatError(field, `scrypt parameters ask for too much (N=2^${logN}, r=${r}, p=${p})`);
  }
  return await scryptAsync(new TextEncoder().encode(password), salt, {
    N: 2 ** logN,
    r,
    p,
    dkLen: KEYNUM_SK_BYTES,
    maxmem: Number(MAX_SCRYPT_MEMORY),
  });
}

function checksum(keyId: Uint8Array, secret: Uint8Array): Uint8Array {
  const input = new Uint8Array(2 + 8 + 64);
  input.set([0x45, 0x64]);
  input.set(keyId, 2);
  input.set(secret, 10);
  return blake2b(input, { dkLen: 32 });
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Reads a secret-key file; `password` is needed for encrypted ones. Refuses
 * a wrong password (checksum mismatch) and a key whose public half does not
 * belong to its seed.
 */
export async function parseSecretKey(
  text: string,
  password?: string,
  field = "secret_key",
): Promise<MinisignSecretKey> {
  const { comment, raw } = decodeSecretKeyFile(text, field);
  const keynumSk = raw.slice(KEYNUM_SK_OFFSET);
  const encrypted = raw[2] === 0x53;
  if (encrypted) {
    if (password === undefined) {
      throw formatError(field, "the key is encrypted: a password is needed");
    }
    const stream = await keystream(
      password,
      raw.subarray(6, 38),
      readU64(raw, 38),
      readU64(raw, 46),
      field,
    );
    for (let i = 0; i < KEYNUM_SK_BYTES; i++) keynumSk[i] ^= stream[i];
  }
  const keyId = keynumSk.slice(0, 8);
  const secret = keynumSk.slice(8, 72);
  const chk = keynumSk.slice(72, 104);
  const unencryptedZero = !encrypted && chk.every((b) => b === 0);
  if (!unencryptedZero && !equal(chk, checksum(keyId, secret))) {
    throw formatError(field, encrypted ? "wrong password for this key" : "checksum mismatch");
  }
  const seed = secret.slice(0, 32);
  const publicKey = secret.slice(32, 64);
  if (!equal(await publicKeyOf(seed), publicKey)) {
    throw formatError(field, "the public key inside does not match the secret key");
  }
  return { keyId, seed, publicKey, comment };
}

/**
 * A secret-key file. With a password it is scrypt-encrypted as minisign does
 * by default (N = 2^20, r = 8: about 1 GiB of memory for a moment); without
 * one it is written as `minisign -W` writes it (plus a real checksum).
 */
export async function formatSecretKey(
  key: MinisignSecretKey,
  password?: string,
  /** scrypt cost (default minisign's): lower only for tests; minisign reads any. */
  limits: { opslimit: bigint; memlimit: bigint } = {
    opslimit: SENSITIVE_OPSLIMIT,
    memlimit: SENSITIVE_MEMLIMIT,
  },
): Promise<string> {
  const comment = key.comment || "minisign encrypted secret key";
  checkComment(comment, "secret_key", MAX_COMMENT_BYTES, "untrusted comment");
  const raw = new Uint8Array(SECRET_KEY_BYTES);
  raw.set([0x45, 0x64], 0); // "Ed"
  raw.set([0x42, 0x32], 4); // "B2"
  const secret = new Uint8Array(64);
  secret.set(key.seed);
  secret.set(key.publicKey, 32);
  const keynumSk = new Uint8Array(KEYNUM_SK_BYTES);
  keynumSk.set(key.keyId);
  keynumSk.set(secret, 8);
  keynumSk.set(checksum(key.keyId, secret), 72);
  if (password !== undefined) {
    raw.set([0x53, 0x63], 2); // "Sc"
    const salt = crypto.getRandomValues(new Uint8Array(32));
    raw.set(salt, 6);
    const view = new DataView(raw.buffer);
    view.setBigUint64(38, limits.opslimit, true);
    view.setBigUint64(46, limits.memlimit, true);
    const stream = await keystream(password, salt, limits.opslimit, limits.memlimit, "secret_key");
    for (let i = 0; i < KEYNUM_SK_BYTES; i++) keynumSk[i] ^= stream[i];
  }
  raw.set(keynumSk, KEYNUM_SK_OFFSET);
  return `${UNTRUSTED_PREFIX}${comment}\n${raw.toBase64()}\n`;
}

/** The public key of a secret key. */
export function publicKeyFromSecret(key: MinisignSecretKey): MinisignPublicKey {
  return { keyId: key.keyId, publicKey: key.publicKey, comment: "" };
}
