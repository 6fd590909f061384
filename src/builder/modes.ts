/**
 * File modes inside the image, decided on the GUEST path (the Go fledge looked at
 * the host staging path, so FHS rules never applied inside directory mappings).
 *
 * Host permission bits other than "is it executable" are ignored on purpose: a
 * git checkout gives 0644/0755 under umask 022 and 0664/0775 under 002, and the
 * image must not depend on the builder's umask.
 *
 * @module
 */

const EXEC_DIRS = [
  "/bin",
  "/sbin",
  "/usr/bin",
  "/usr/sbin",
  "/usr/local/bin",
  "/usr/local/sbin",
  "/opt/bin",
  "/opt/sbin",
];

const LIB_DIRS = ["/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/local/lib64"];

const under = (path: string, dirs: readonly string[]) => dirs.some((d) => path.startsWith(d + "/"));

/** True for a shared object name: `libx.so`, `libx.so.1.2`. */
function isSharedObject(path: string): boolean {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base.endsWith(".so") || base.includes(".so.");
}

/**
 * The permission bits of a regular file at `guestPath`: an explicit override wins;
 * a host file with any exec bit becomes 0755; files in bin/sbin dirs and shared
 * objects in lib dirs are 0755; everything else 0644.
 */
export function fileMode(guestPath: string, hostMode: number, override?: number): number {
  if (override !== undefined) return override;
  if ((hostMode & 0o111) !== 0) return 0o755;
  if (under(guestPath, EXEC_DIRS)) return 0o755;
  if (under(guestPath, LIB_DIRS) && isSharedObject(guestPath)) return 0o755;
  return 0o644;
}

/** Directories created by mappings and the skeleton. */
export const DIR_MODE = 0o755;
