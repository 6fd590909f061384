/**
 * What `volar plugins install --signature URL|FILE` (and a `.minisig` beside
 * a local manifest) add to the install body. volantd verifies; volar only
 * carries the signature: a URL is passed on for volantd to fetch, a local
 * file is read and sent as text. With a local daemon volantd finds
 * `<manifest>.minisig` itself; with `--api` (maybe another host) volar reads
 * it here and sends it along with the manifest's exact text.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { ManifestSource } from "./manifest_source.ts";
import { absolutePath } from "./paths.ts";

/** Install body members for the signature. */
export interface SignatureFields {
  signature?: string;
  signature_url?: string;
}

async function readIfPresent(path: string, required: boolean): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && !required) return undefined;
    if (error instanceof Deno.errors.NotFound) {
      throw new VolantError("not_found", `--signature: ${path}: no such file`, { cause: error });
    }
    throw error;
  }
}

/** The signature members of the body for `--signature` `option` (or the default beside `src`). */
export async function signatureFields(
  option: string | undefined,
  src: ManifestSource,
  remote: boolean,
  cwd: string,
): Promise<SignatureFields> {
  if (option !== undefined) {
    if (/^(https?|file):\/\//i.test(option)) return { signature_url: option };
    const path = absolutePath(cwd, option);
    return { signature: await readIfPresent(path, true) };
  }
  if (src.kind === "file" && remote) {
    const text = await readIfPresent(`${src.path}.minisig`, false);
    return text === undefined ? {} : { signature: text };
  }
  return {};
}
