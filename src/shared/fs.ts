/**
 * `exists`, the one copy: whether a path is there. Only "not found" is false;
 * any other failure (permission, I/O) is thrown, so it is never mistaken for
 * absence. `followLinks: false` looks at a symlink itself (lstat).
 *
 * @module
 */

/** Options of {@linkcode exists} and {@linkcode existsSync}. */
export interface ExistsOptions {
  /** Follow a final symlink (stat, the default) or look at the link itself (lstat). */
  followLinks?: boolean;
}

function notFound(error: unknown): false {
  if (error instanceof Deno.errors.NotFound) return false;
  throw error;
}

/** Whether `path` exists. */
export async function exists(path: string, opts: ExistsOptions = {}): Promise<boolean> {
  try {
    await (opts.followLinks === false ? Deno.lstat(path) : Deno.stat(path));
    return true;
  } catch (error) {
    return notFound(error);
  }
}

/** Whether `path` exists (synchronous, for boot paths and sync builders). */
export function existsSync(path: string, opts: ExistsOptions = {}): boolean {
  try {
    if (opts.followLinks === false) Deno.lstatSync(path);
    else Deno.statSync(path);
    return true;
  } catch (error) {
    return notFound(error);
  }
}
