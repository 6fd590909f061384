/**
 * `fledge keygen`, `fledge sign FILE...` and the signing step of
 * `fledge build --sign KEY`: minisign-compatible keys and detached
 * signatures (see signing.ts). Keys made here work with `minisign -S`, and
 * minisign's keys work here.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { BuildResult } from "./build.ts";
import { readPassword } from "./password.ts";
import {
  DEFAULT_PUBLIC_KEY,
  defaultSecretKeyPath,
  generateKeyFiles,
  loadSecretKey,
  type SignedFile,
  signFile,
} from "./signing.ts";
import type { MinisignSecretKey } from "../crypto/mod.ts";

export const KEYGEN_HELP =
  `Usage: fledge keygen [-p PUB] [-s KEY] [-W | --password-file FILE] [--force] [--json]

Creates a minisign-compatible Ed25519 key pair (minisign 0.11's file formats):
  -p, --public-key PUB   public key file (default ./${DEFAULT_PUBLIC_KEY}); give it to
                         volantd with \`volar keys add NAME PUB\`
  -s, --secret-key KEY   secret key file, mode 0600 (default minisign's:
                         $MINISIGN_CONFIG_DIR or ~/.minisign, /minisign.key)
  -W, --unencrypted      do not encrypt the secret key (for CI secrets)
      --password-file F  encrypt with the first line of F (else FLEDGE_KEY_PASSWORD,
                         else a prompt); scrypt as minisign does (1 GiB, some seconds)
  -f, --force            overwrite existing key files
      --json             print {key_id, public_key, secret_key} as JSON`;

export const SIGN_HELP =
  `Usage: fledge sign FILE... [-s KEY] [-t COMMENT] [--legacy] [--password-file F] [--json]

Writes FILE.minisig (minisign's format, verifiable with \`minisign -Vm FILE -p PUB\`).
The trusted comment is minisign's default (timestamp, file, hashed) plus
plugin:<name> and version:<version> when FILE is a plugin manifest.
  -s, --secret-key KEY    secret key (default minisign's, see fledge keygen --help)
  -t, --trusted-comment C  the trusted comment instead (one line)
      --legacy             legacy Ed signature (no BLAKE2b prehash)
      --password-file F    password of an encrypted key (else FLEDGE_KEY_PASSWORD, else a prompt)
      --json               print what was signed as JSON`;

/** `fledge keygen`. */
export async function keygen(values: Record<string, unknown>, json: boolean): Promise<number> {
  const unencrypted = values.unencrypted === true;
  const passwordFile = values["password-file"] as string | undefined;
  if (unencrypted && passwordFile !== undefined) {
    throw new VolantError("usage", "give -W or --password-file, not both");
  }
  const password = unencrypted
    ? undefined
    : await readPassword({ passwordFile, confirm: true, purpose: "fledge keygen (or -W)" });
  const made = await generateKeyFiles({
    publicKeyPath: (values["public-key"] as string | undefined) ?? DEFAULT_PUBLIC_KEY,
    secretKeyPath: (values["secret-key"] as string | undefined) ?? defaultSecretKeyPath(),
    password,
    force: values.force === true,
  });
  if (json) {
    console.log(JSON.stringify({
      ok: true,
      key_id: made.keyId,
      public_key: made.publicKey,
      secret_key: made.secretKey,
      encrypted: password !== undefined,
    }));
  } else {
    console.log(`key ${made.keyId}`);
    console.log(`secret key: ${made.secretKey} (keep it secret)`);
    console.log(`public key: ${made.publicKey} (trust it: volar keys add NAME ${made.publicKey})`);
  }
  return 0;
}

/** `fledge sign FILE...`. */
export async function sign(
  values: Record<string, unknown>,
  files: string[],
  json: boolean,
): Promise<number> {
  if (files.length === 0) throw new VolantError("usage", "fledge sign needs a FILE");
  const key = await loadSecretKey(
    (values["secret-key"] as string | undefined) ?? defaultSecretKeyPath(),
    values["password-file"] as string | undefined,
  );
  const signed: SignedFile[] = [];
  for (const file of files) {
    signed.push(
      await signFile(file, key, {
        trustedComment: values["trusted-comment"] as string | undefined,
        legacy: values.legacy === true,
      }),
    );
  }
  if (json) console.log(JSON.stringify({ ok: true, signed }));
  else for (const s of signed) console.log(s.signature);
  return 0;
}

/** The signatures a signed build adds to its summary. */
export interface BuildSignatures {
  key_id: string;
  manifest: string;
  sha256sums: string;
  trusted_comment: string;
}

/** Signs a build's manifest and SHA256SUMS (key loaded before the build, so a bad one fails first). */
export async function signBuild(
  result: BuildResult,
  key: MinisignSecretKey,
): Promise<BuildSignatures> {
  const plugin = { name: result.name, version: result.version };
  const now = new Date();
  const manifest = await signFile(result.manifest.path, key, { plugin, now });
  const sums = await signFile(result.sha256sums, key, { plugin, now });
  return {
    key_id: manifest.key_id,
    manifest: manifest.signature,
    sha256sums: sums.signature,
    trusted_comment: manifest.trusted_comment,
  };
}
