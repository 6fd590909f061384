/**
 * API contract for signed plugins: trusted keys (`/api/v1/keys`) and the
 * signature record a plugin carries once its manifest's minisign signature
 * was verified. Pure: zod only.
 *
 * @module
 */
import { z } from "zod";
import { NameSchema } from "./names.ts";

const Timestamp = z.string().describe("RFC 3339 timestamp, UTC");

/** minisign key id as minisign prints it: 16 upper-case hex digits. */
export const KeyIdSchema = z.string().regex(/^[0-9A-F]{16}$/, "must be 16 upper-case hex digits");

/** A trusted minisign public key, stored as `<state_dir>/trusted_keys/<name>.json`. */
export const TrustedKeySchema = z.object({
  name: NameSchema,
  key_id: KeyIdSchema,
  /** The base64 line of the minisign public key (what `minisign -P` takes). */
  public_key: z.string(),
  /** The key file's untrusted comment, if any (informational). */
  comment: z.string(),
  /** Plugin names this key may sign; empty = any plugin. */
  plugins: z.array(NameSchema),
  added_at: Timestamp,
});
export type TrustedKey = z.infer<typeof TrustedKeySchema>;

export const TrustedKeyListSchema = z.object({ items: z.array(TrustedKeySchema) });
export type TrustedKeyList = z.infer<typeof TrustedKeyListSchema>;

/** POST /api/v1/keys. */
export const AddKeyBodySchema = z.strictObject({
  name: NameSchema,
  /** A minisign `.pub` file's text, or its base64 line alone. */
  public_key: z.string().min(1, "must not be empty").max(4096, "must be at most 4096 characters"),
  /** Restrict the key to these plugin names (default: any plugin). */
  plugins: z.array(NameSchema).max(256).optional(),
});
export type AddKeyBody = z.infer<typeof AddKeyBodySchema>;

/** Who signed an installed plugin's manifest, recorded when the signature was verified. */
export const PluginSignatureSchema = z.object({
  key_id: KeyIdSchema,
  /** The trusted key's name at install time. */
  key_name: z.string(),
  /** `ED` (BLAKE2b-512 prehashed) or legacy `Ed`. */
  algorithm: z.enum(["ED", "Ed"]),
  trusted_comment: z.string(),
  /** From the trusted comment's `timestamp:`; null when it has none. */
  signed_at: Timestamp.nullable(),
  verified_at: Timestamp,
  /** Where the signature came from: a URL, a path, or `request`. */
  source: z.string(),
});
export type PluginSignature = z.infer<typeof PluginSignatureSchema>;
