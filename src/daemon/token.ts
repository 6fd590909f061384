/**
 * The TCP bearer token: 32 random bytes (base64url) in `<state>/api-token`,
 * created once with mode 0600 and reused afterwards.
 *
 * @module
 */
import { VolantError } from "../errors.ts";

/** Path of the token file in a state dir. */
export function tokenPath(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, "")}/api-token`;
}

function newToken(): string {
  return crypto.getRandomValues(new Uint8Array(32)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/**
 * Returns the token, creating the file on first use. A file readable by
 * others is tightened to 0600 and reported through `warn`.
 */
export async function ensureToken(
  stateDir: string,
  warn: (msg: string, fields: Record<string, unknown>) => void = () => {},
): Promise<{ token: string; path: string; created: boolean }> {
  const path = tokenPath(stateDir);
  try {
    const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    const token = newToken();
    try {
      await file.write(new TextEncoder().encode(token + "\n"));
    } finally {
      file.close();
    }
    await Deno.chmod(path, 0o600); // the umask may have narrowed, never widened, but be exact
    return { token, path, created: true };
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const info = await Deno.stat(path);
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    await Deno.chmod(path, 0o600);
    warn("api token file was readable by others; mode set to 0600", { path });
  }
  const token = (await Deno.readTextFile(path)).trim();
  if (!/^[A-Za-z0-9_-]{16,512}$/.test(token)) {
    throw new VolantError(
      "invalid_input",
      `api token file ${path} is malformed (delete it to generate a new token)`,
    );
  }
  return { token, path, created: false };
}
