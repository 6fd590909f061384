/**
 * fledge's signing: key files where minisign keeps them (so `minisign` and
 * `fledge` share keys), detached `.minisig` files whose trusted comment names
 * the time, the file and, for plugin outputs, the plugin and its version:
 *
 * ```
 * trusted comment: timestamp:1764676800	file:caddy.manifest.json	hashed	plugin:caddy	version:1.2.0
 * ```
 *
 * The first three fields are exactly minisign's default; volantd checks that
 * `plugin:` and `version:` match the manifest it installs.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import {
  formatPublicKey,
  formatSecretKey,
  formatSignature,
  generateKeyPair,
  keyIdHex,
  type MinisignSecretKey,
  parseSecretKey,
  publicKeyFromSecret,
  secretKeyIsEncrypted,
  signMessage,
} from "../crypto/mod.ts";
import { VolantError } from "../errors.ts";
import { readPassword } from "./password.ts";
import { exists } from "../shared/fs.ts";

/** minisign's default secret key: `$MINISIGN_CONFIG_DIR/minisign.key` or `~/.minisign/minisign.key`. */
export function defaultSecretKeyPath(): string {
  const dir = Deno.env.get("MINISIGN_CONFIG_DIR") ||
    join(Deno.env.get("HOME") ?? ".", ".minisign");
  return join(dir, "minisign.key");
}

/** minisign's default public key file: `./minisign.pub`. */
export const DEFAULT_PUBLIC_KEY = "minisign.pub";

/** Reads a secret-key file, asking for its password only when it is encrypted. */
export async function loadSecretKey(
  path: string,
  passwordFile?: string,
): Promise<MinisignSecretKey> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new VolantError(
      "not_found",
      `secret key ${path} does not exist (create one with fledge keygen)`,
      { cause: error },
    );
  }
  const password = secretKeyIsEncrypted(text, path)
    ? await readPassword({ passwordFile, purpose: `secret key ${path}` })
    : undefined;
  return await parseSecretKey(text, password, path);
}

async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${Deno.pid}`);
  try {
    await Deno.writeTextFile(tmp, text, { mode });
    await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    throw error;
  }
}

/** Options of {@linkcode generateKeyFiles}. */
export interface KeygenOptions {
  publicKeyPath: string;
  secretKeyPath: string;
  /** Encrypt the secret key (scrypt, as minisign); undefined = unencrypted (`minisign -W`). */
  password?: string;
  /** Overwrite existing files. */
  force?: boolean;
}

/** Writes a new key pair; the secret key 0600 in a 0700 directory when it creates one. */
export async function generateKeyFiles(
  opts: KeygenOptions,
): Promise<{ keyId: string; publicKey: string; secretKey: string }> {
  for (const p of [opts.publicKeyPath, opts.secretKeyPath]) {
    if (!opts.force && await exists(p, { followLinks: false })) {
      throw new VolantError("conflict", `${p} already exists (use --force to overwrite it)`);
    }
  }
  const key = await generateKeyPair();
  const secret = await formatSecretKey(key, opts.password);
  await Deno.mkdir(dirname(opts.secretKeyPath), { recursive: true, mode: 0o700 });
  await writeAtomic(opts.secretKeyPath, secret, 0o600);
  await writeAtomic(opts.publicKeyPath, formatPublicKey(publicKeyFromSecret(key)), 0o644);
  return {
    keyId: keyIdHex(key.keyId),
    publicKey: opts.publicKeyPath,
    secretKey: opts.secretKeyPath,
  };
}

/** `name` and `version` of a plugin manifest, when `data` is one. */
export function pluginOf(data: Uint8Array): { name: string; version: string } | undefined {
  try {
    const m = JSON.parse(new TextDecoder().decode(data));
    if (typeof m?.name === "string" && typeof m?.version === "string") {
      return { name: m.name, version: m.version };
    }
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
  return undefined;
}

const ONE_LINE = /^[^\t\r\n]*$/;

/** minisign's default trusted comment, plus `plugin:` and `version:` when given. */
export function trustedComment(
  file: string,
  when: Date,
  plugin?: { name: string; version: string },
  legacy = false,
): string {
  const parts = [`timestamp:${Math.floor(when.getTime() / 1000)}`, `file:${basename(file)}`];
  if (!legacy) parts.push("hashed");
  if (plugin) {
    for (const v of [plugin.name, plugin.version]) {
      if (!ONE_LINE.test(v)) {
        throw new VolantError(
          "invalid_input",
          `plugin name/version ${JSON.stringify(v)} has a tab or line break`,
        );
      }
    }
    parts.push(`plugin:${plugin.name}`, `version:${plugin.version}`);
  }
  return parts.join("\t");
}

/** Options of {@linkcode signFile}. */
export interface SignFileOptions {
  /** Default: minisign's default plus plugin/version (from `plugin`, or the file if a manifest). */
  trustedComment?: string;
  untrustedComment?: string;
  plugin?: { name: string; version: string };
  legacy?: boolean;
  /** Signature path (default `<file>.minisig`). */
  output?: string;
  now?: Date;
}

/** What {@linkcode signFile} wrote. */
export interface SignedFile {
  file: string;
  signature: string;
  key_id: string;
  trusted_comment: string;
}

/** Signs `file` with `key`, writing `<file>.minisig` atomically. */
export async function signFile(
  file: string,
  key: MinisignSecretKey,
  opts: SignFileOptions = {},
): Promise<SignedFile> {
  let data: Uint8Array;
  try {
    data = await Deno.readFile(file);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new VolantError("not_found", `${file} does not exist`, { cause: error });
  }
  const comment = opts.trustedComment ??
    trustedComment(file, opts.now ?? new Date(), opts.plugin ?? pluginOf(data), opts.legacy);
  const sig = await signMessage(data, key, {
    trustedComment: comment,
    untrustedComment: opts.untrustedComment ??
      `signature from fledge secret key ${keyIdHex(key.keyId)}`,
    legacy: opts.legacy,
  });
  const output = opts.output ?? `${file}.minisig`;
  await writeAtomic(output, formatSignature(sig), 0o644);
  return { file, signature: output, key_id: keyIdHex(key.keyId), trusted_comment: comment };
}
