/**
 * Making and checking minisign signatures. Signing always writes the
 * prehashed `ED` form (minisign's default since 0.8) unless `legacy` is set;
 * verifying reads both. The verdict names what failed, so callers can say
 * which key and which check refused a file.
 *
 * @module
 */
import { blake2b } from "@noble/hashes/blake2.js";
import { generateEd25519, signEd25519, verifyEd25519 } from "./ed25519.ts";
import {
  checkComment,
  keyIdHex,
  MAX_TRUSTED_COMMENT_BYTES,
  type MinisignPublicKey,
  type MinisignSignature,
} from "./minisign.ts";
import type { MinisignSecretKey } from "./minisign_secret_key.ts";

/** A new key pair with a random 8-byte key id, as `minisign -G` makes one. */
export async function generateKeyPair(): Promise<MinisignSecretKey> {
  const { seed, publicKey } = await generateEd25519();
  return { keyId: crypto.getRandomValues(new Uint8Array(8)), seed, publicKey, comment: "" };
}

function signedData(algorithm: "Ed" | "ED", message: Uint8Array): Uint8Array {
  return algorithm === "ED" ? blake2b(message, { dkLen: 64 }) : message;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Options of {@linkcode signMessage}. */
export interface SignOptions {
  /** Signed along with the file (one line); minisign's default names time and file. */
  trustedComment: string;
  /** Not signed (default "signature from minisign secret key"). */
  untrustedComment?: string;
  /** Write the legacy `Ed` form (the file itself signed, no prehash). */
  legacy?: boolean;
}

/** Signs `message` with `key`. */
export async function signMessage(
  message: Uint8Array,
  key: MinisignSecretKey,
  opts: SignOptions,
): Promise<MinisignSignature> {
  checkComment(
    opts.trustedComment,
    "trusted_comment",
    MAX_TRUSTED_COMMENT_BYTES,
    "trusted comment",
  );
  const algorithm = opts.legacy ? "Ed" : "ED";
  const signature = await signEd25519(key.seed, signedData(algorithm, message));
  const comment = new TextEncoder().encode(opts.trustedComment);
  const globalSignature = await signEd25519(key.seed, concat(signature, comment));
  return {
    algorithm,
    keyId: key.keyId,
    signature,
    untrustedComment: opts.untrustedComment ?? "signature from minisign secret key",
    trustedComment: opts.trustedComment,
    globalSignature,
  };
}

/** Why a signature was refused. */
export type VerifyFailure =
  | "key_id_mismatch"
  | "signature_invalid"
  | "trusted_comment_invalid";

export type VerifyResult =
  | { ok: true; keyId: string; algorithm: "Ed" | "ED"; trustedComment: string }
  | { ok: false; keyId: string; reason: VerifyFailure; message: string };

/**
 * Checks `sig` over `message` against `key`: the key ids must match, the
 * signature must cover the file, and the global signature the trusted comment.
 */
export async function verifyMessage(
  message: Uint8Array,
  sig: MinisignSignature,
  key: MinisignPublicKey,
): Promise<VerifyResult> {
  const keyId = keyIdHex(sig.keyId);
  if (keyIdHex(key.keyId) !== keyId) {
    return {
      ok: false,
      keyId,
      reason: "key_id_mismatch",
      message: `signed by key ${keyId}, not by key ${keyIdHex(key.keyId)}`,
    };
  }
  if (!await verifyEd25519(key.publicKey, sig.signature, signedData(sig.algorithm, message))) {
    return {
      ok: false,
      keyId,
      reason: "signature_invalid",
      message: `signature by key ${keyId} does not match the file (changed after signing?)`,
    };
  }
  const comment = new TextEncoder().encode(sig.trustedComment);
  if (!await verifyEd25519(key.publicKey, sig.globalSignature, concat(sig.signature, comment))) {
    return {
      ok: false,
      keyId,
      reason: "trusted_comment_invalid",
      message: `trusted comment of the signature by key ${keyId} was altered`,
    };
  }
  return { ok: true, keyId, algorithm: sig.algorithm, trustedComment: sig.trustedComment };
}
