/**
 * The signature check of a plugin install, run right after the manifest is
 * read and before any artifact is fetched:
 *
 * 1. find the signature: `signature` (text) or `signature_url` from the
 *    request, else `<manifest url or path>.minisig` next to the manifest;
 * 2. none found: unsigned (refused when signatures are required);
 * 3. otherwise it must parse, be made by a trusted key whose scope covers
 *    the plugin, cover the manifest's exact bytes and its trusted comment,
 *    and a trusted comment that names `plugin:` / `version:` must name this
 *    manifest's. Any failure refuses the install, naming the key id.
 *
 * @module
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { keyIdHex, parsePublicKey, parseSignature, trustedFields } from "../crypto/minisign.ts";
import { verifyMessage } from "../crypto/minisign_sign.ts";
import type { GuardedResponse } from "./guarded_fetch.ts";
import { VolantError } from "../errors.ts";
import type { InstallPluginBody } from "../manifest/api.ts";
import type { PluginManifest } from "../manifest/mod.ts";
import type { PluginSignature, TrustedKey } from "../manifest/signing.ts";
import type { LoadedManifest } from "./plugin_source.ts";
import { fileProblem } from "./fs_problem.ts";

/** A `.minisig` is 4 short lines; anything much larger is not one. */
const MAX_SIGNATURE_BYTES = 16384;

/** Why an install was refused, in `details.reason` of the error. */
export type SignatureRefusal =
  | "unsigned"
  | "untrusted_key"
  | "out_of_scope"
  | "key_id_mismatch"
  | "signature_invalid"
  | "trusted_comment_invalid"
  | "trusted_comment_mismatch";

function refuse(reason: SignatureRefusal, message: string, keyId?: string): VolantError {
  return new VolantError("forbidden", message, {
    problems: [{ field: "signature", message }],
    details: { reason, ...(keyId ? { key_id: keyId } : {}) },
  });
}

interface FoundSignature {
  text: string;
  source: string;
}

type Fetched = { ok: true; text: string } | { ok: false; why: string };

/** The daemon's guarded download (guarded_fetch.ts), bound to the install's policy. */
export type Download = (url: string, field: string) => Promise<GuardedResponse>;

async function fetchText(
  url: URL,
  field: string,
  download: Download,
  signal?: AbortSignal,
): Promise<Fetched> {
  if (url.protocol === "file:") {
    const path = fileURLToPath(url);
    try {
      const info = await Deno.stat(path);
      if (!info.isFile) return { ok: false, why: `${path} is not a regular file` };
      if (info.size > MAX_SIGNATURE_BYTES) return { ok: false, why: `${path} is too large` };
      // As for manifests: only files every user may read (see plugin_source.ts).
      if (info.mode !== null && (info.mode & 0o004) === 0) {
        return { ok: false, why: `${path} is not world-readable` };
      }
      return { ok: true, text: await Deno.readTextFile(path) };
    } catch (error) {
      if (error instanceof VolantError) throw error;
      return { ok: false, why: fileProblem(field, path, error).message };
    }
  }
  let res: GuardedResponse;
  try {
    res = await download(url.href, field);
  } catch (error) {
    if (signal?.aborted || !(error instanceof VolantError)) throw error;
    return { ok: false, why: error.message };
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > MAX_SIGNATURE_BYTES) return { ok: false, why: `${url.href} is too large` };
    chunks.push(chunk);
  }
  return { ok: true, text: new TextDecoder().decode(await new Blob(chunks as BlobPart[]).bytes()) };
}

/** The `.minisig` URL next to a manifest URL (`a/b.json?x` -> `a/b.json.minisig?x`). */
export function signatureUrlFor(manifest: URL): URL {
  const url = new URL(manifest.href);
  url.pathname += ".minisig";
  return url;
}

/** Finds the signature; undefined with the places looked at when there is none. */
async function findSignature(
  body: InstallPluginBody,
  loaded: LoadedManifest,
  download: Download,
  signal?: AbortSignal,
): Promise<FoundSignature | { missing: string }> {
  if (body.signature !== undefined) return { text: body.signature, source: "request" };
  if (body.signature_url !== undefined) {
    const url = new URL(body.signature_url);
    const got = await fetchText(url, "signature_url", download, signal);
    if (!got.ok) {
      throw new VolantError("invalid_input", `signature_url: ${got.why}`, {
        problems: [{ field: "signature_url", message: got.why }],
      });
    }
    return { text: got.text, source: url.href };
  }
  const { origin } = loaded;
  if (origin.kind === "body") return { missing: "no signature was sent with the manifest" };
  // Next to the manifest as named (a symlinked manifest's signature sits beside the link).
  const named = body.path ?? (body.url?.startsWith("file:") ? fileURLToPath(body.url) : undefined);
  const url = origin.kind === "http"
    ? signatureUrlFor(origin.url)
    : pathToFileURL(`${named ?? origin.path}.minisig`);
  const got = await fetchText(url, "signature", download, signal);
  if (!got.ok) return { missing: `no signature: ${got.why}` };
  return { text: got.text, source: origin.kind === "http" ? url.href : fileURLToPath(url) };
}

/** Inputs of {@linkcode checkSignature}. */
export interface SignatureCheck {
  body: InstallPluginBody;
  loaded: LoadedManifest;
  manifest: PluginManifest;
  keys: TrustedKey[];
  requireSignatures: boolean;
  download: Download;
  now: Date;
  signal?: AbortSignal;
}

function signedAt(comment: string): string | null {
  const ts = trustedFields(comment).get("timestamp");
  if (!ts || !/^\d{1,12}$/.test(ts)) return null;
  return new Date(Number(ts) * 1000).toISOString();
}

/**
 * Verifies the manifest's signature. Returns what to record (null = unsigned
 * and allowed); throws `forbidden` (details.reason, details.key_id) when the
 * install must be refused, `invalid_input` for an unreadable signature.
 */
export async function checkSignature(c: SignatureCheck): Promise<PluginSignature | null> {
  const found = await findSignature(c.body, c.loaded, c.download, c.signal);
  const plugin = `${c.manifest.name} ${c.manifest.version}`;
  if ("missing" in found) {
    if (!c.requireSignatures) return null;
    throw refuse(
      "unsigned",
      `plugin ${plugin} is unsigned (${found.missing}) and this daemon requires signatures ` +
        "(require_signatures): sign the manifest (fledge sign) and publish <manifest>.minisig beside it",
    );
  }
  if (!c.loaded.bytes) {
    throw new VolantError(
      "invalid_input",
      "manifest: a signature covers the manifest's exact bytes: send the manifest as a string",
      { problems: [{ field: "manifest", message: "must be the manifest's text when signed" }] },
    );
  }
  const sig = parseSignature(found.text, "signature");
  const keyId = keyIdHex(sig.keyId);
  const key = c.keys.find((k) => k.key_id === keyId);
  if (!key) {
    throw refuse(
      "untrusted_key",
      `plugin ${plugin}: signed by key ${keyId}, which is not trusted ` +
        "(volar keys add NAME KEY.pub to trust it)",
      keyId,
    );
  }
  if (key.plugins.length > 0 && !key.plugins.includes(c.manifest.name)) {
    throw refuse(
      "out_of_scope",
      `plugin ${plugin}: key ${keyId} (${key.name}) may sign only ${key.plugins.join(", ")}`,
      keyId,
    );
  }
  const verdict = await verifyMessage(c.loaded.bytes, sig, parsePublicKey(key.public_key));
  if (!verdict.ok) {
    throw refuse(verdict.reason, `plugin ${plugin}: ${verdict.message} (key ${key.name})`, keyId);
  }
  const fields = trustedFields(sig.trustedComment);
  for (const [field, want] of [["plugin", c.manifest.name], ["version", c.manifest.version]]) {
    const said = fields.get(field);
    if (said !== undefined && said !== want) {
      throw refuse(
        "trusted_comment_mismatch",
        `plugin ${plugin}: the trusted comment of the signature by key ${keyId} names ` +
          `${field} ${JSON.stringify(said)}, not ${JSON.stringify(want)}`,
        keyId,
      );
    }
  }
  return {
    key_id: keyId,
    key_name: key.name,
    algorithm: sig.algorithm,
    trusted_comment: sig.trustedComment,
    signed_at: signedAt(sig.trustedComment),
    verified_at: c.now.toISOString(),
    source: found.source,
  };
}
