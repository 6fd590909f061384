/**
 * Host filesystem errors on a path an API caller named, as a 4xx naming the
 * field: a missing file, a symlink loop, a name too long, a directory where a
 * file was expected or a device that cannot be read is bad input, not a 500.
 *
 * @module
 */
import { VolantError } from "../errors.ts";

const WHY: Readonly<Record<string, string>> = {
  ENOENT: "does not exist",
  EACCES: "is not readable",
  EPERM: "is not readable",
  ELOOP: "has too many levels of symbolic links",
  ENAMETOOLONG: "has a name that is too long",
  ENOTDIR: "has a component that is not a directory",
  EISDIR: "is a directory",
  EIO: "cannot be read (I/O error)",
  EINVAL: "cannot be read",
  ENXIO: "cannot be read (no such device)",
};

/** `field: <path> <why>` as invalid_input; anything that is not a filesystem error is rethrown. */
export function fileProblem(field: string, path: string, cause: unknown): VolantError {
  if (cause instanceof VolantError) return cause;
  const code = (cause as { code?: unknown })?.code;
  const why = typeof code === "string" ? WHY[code] : undefined;
  if (why === undefined) {
    if (cause instanceof Deno.errors.NotFound) return fileProblem(field, path, { code: "ENOENT" });
    if (cause instanceof Deno.errors.PermissionDenied) {
      return fileProblem(field, path, { code: "EACCES" });
    }
    throw cause;
  }
  return new VolantError("invalid_input", `${field}: ${path} ${why}`, {
    cause,
    problems: [{ field, message: `${path} ${why}` }],
  });
}
