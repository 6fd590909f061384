/**
 * minisign-compatible Ed25519 signatures: the key and signature file formats
 * of minisign 0.11, signing (prehashed `ED`, or legacy `Ed`) and verifying.
 * Ed25519 comes from WebCrypto, BLAKE2b and scrypt from @noble/hashes.
 *
 * @example
 * ```ts
 * import { formatSignature, generateKeyPair, parsePublicKey, publicKeyFromSecret,
 *   formatPublicKey, parseSignature, signMessage, verifyMessage } from "./mod.ts";
 * const key = await generateKeyPair();
 * const data = new TextEncoder().encode("hello");
 * const sig = await signMessage(data, key, { trustedComment: "timestamp:0\tfile:hello" });
 * const pub = parsePublicKey(formatPublicKey(publicKeyFromSecret(key)));
 * const verdict = await verifyMessage(data, parseSignature(formatSignature(sig)), pub);
 * console.log(verdict.ok); // true
 * ```
 *
 * @module
 */
export * from "./minisign.ts";
export * from "./minisign_secret_key.ts";
export * from "./minisign_sign.ts";
