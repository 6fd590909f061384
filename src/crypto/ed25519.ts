/**
 * Ed25519 through WebCrypto (Deno implements it natively): key generation,
 * the public key of a seed, signing and verifying. No primitive is written
 * here; the only constant is the PKCS#8 wrapping WebCrypto needs to import a
 * raw 32-byte seed (RFC 8410).
 *
 * @module
 */

const ED25519 = { name: "Ed25519" } as const;

/** DER prefix of an Ed25519 PKCS#8 private key; the 32-byte seed follows (RFC 8410 §7). */
const PKCS8_PREFIX = Uint8Array.from([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
]);

/** A seed and its public key (libsodium's 64-byte secret key is `seed || publicKey`). */
export interface Ed25519KeyPair {
  seed: Uint8Array;
  publicKey: Uint8Array;
}

function fromBase64Url(s: string): Uint8Array {
  return Uint8Array.fromBase64(s, { alphabet: "base64url" });
}

function importSeed(seed: Uint8Array): Promise<CryptoKey> {
  if (seed.length !== 32) throw new RangeError(`Ed25519 seed must be 32 bytes, got ${seed.length}`);
  const der = new Uint8Array(PKCS8_PREFIX.length + 32);
  der.set(PKCS8_PREFIX);
  der.set(seed, PKCS8_PREFIX.length);
  return crypto.subtle.importKey("pkcs8", der, ED25519, true, ["sign"]);
}

/** A fresh key pair from the platform's CSPRNG. */
export async function generateEd25519(): Promise<Ed25519KeyPair> {
  const pair = await crypto.subtle.generateKey(ED25519, true, ["sign", "verify"]) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  return { seed: fromBase64Url(jwk.d!), publicKey: fromBase64Url(jwk.x!) };
}

/** The public key belonging to `seed`. */
export async function publicKeyOf(seed: Uint8Array): Promise<Uint8Array> {
  const jwk = await crypto.subtle.exportKey("jwk", await importSeed(seed));
  return fromBase64Url(jwk.x!);
}

/** A 64-byte Ed25519 signature of `message`. */
export async function signEd25519(seed: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const key = await importSeed(seed);
  return new Uint8Array(await crypto.subtle.sign(ED25519, key, message as BufferSource));
}

/** True when `signature` is `publicKey`'s signature of `message`. */
export async function verifyEd25519(
  publicKey: Uint8Array,
  signature: Uint8Array,
  message: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const key = await crypto.subtle.importKey(
    "raw",
    publicKey as BufferSource,
    ED25519,
    false,
    ["verify"],
  );
  return await crypto.subtle.verify(
    ED25519,
    key,
    signature as BufferSource,
    message as BufferSource,
  );
}
