/**
 * Where a manifest comes from on the command line: a local file or an
 * http(s):// / file:// URL. Reading it here is only for local validation;
 * installs send the daemon the absolute path or the URL so relative artifact
 * references resolve against the manifest's own location.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { absolutePath } from "./paths.ts";

/** A classified manifest argument. */
export type ManifestSource =
  | { kind: "url"; url: string }
  | { kind: "file"; path: string };

/** Classifies `arg` (URLs by scheme; anything else is a path made absolute against `cwd`). */
export function classifySource(arg: string, cwd: string): ManifestSource {
  if (/^(https?|file):\/\//i.test(arg)) return { kind: "url", url: arg };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) {
    throw new VolantError("usage", `${arg}: only http://, https:// and file:// URLs or paths`);
  }
  return { kind: "file", path: absolutePath(cwd, arg) };
}

/** Reads the source's text (files and URLs alike), with one-line errors. */
export async function readSource(src: ManifestSource, signal?: AbortSignal): Promise<string> {
  if (src.kind === "file") {
    try {
      return await Deno.readTextFile(src.path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new VolantError("not_found", `${src.path}: no such file`, { cause: error });
      }
      if (error instanceof Deno.errors.PermissionDenied) {
        throw new VolantError("forbidden", `${src.path}: permission denied`, { cause: error });
      }
      if (error instanceof Deno.errors.IsADirectory) {
        throw new VolantError("invalid_input", `${src.path}: is a directory`, { cause: error });
      }
      throw error;
    }
  }
  let res: Response;
  try {
    res = await fetch(src.url, { signal: signal ?? AbortSignal.timeout(30_000) });
  } catch (error) {
    if (!(error instanceof TypeError || error instanceof DOMException)) throw error;
    const reason = error.message.split("\n")[0];
    throw new VolantError("upstream", `${src.url}: cannot fetch (${reason})`, { cause: error });
  }
  if (!res.ok) {
    await res.body?.cancel();
    const code = res.status === 404 ? "not_found" : "upstream";
    throw new VolantError(code, `${src.url}: HTTP ${res.status} ${res.statusText}`.trim());
  }
  return await res.text();
}

/** Parses manifest JSON; a syntax error names the source. */
export function parseJsonText(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new VolantError("invalid_input", `${where}: not valid JSON (${error.message})`, {
      cause: error,
    });
  }
}

/** The label of a source in messages. */
export function sourceLabel(src: ManifestSource): string {
  return src.kind === "file" ? src.path : src.url;
}
