/**
 * `[mappings]`: host files and directories copied into the image. Sources resolve
 * against the config file's directory; a top-level source that is a symlink is
 * followed, symlinks inside a mapped directory are kept as symlinks (their
 * targets are never resolved on the host). Hardlinks inside mapped trees stay
 * hardlinks. FIFOs, sockets and devices are refused, never opened.
 *
 * @module
 */
import { isAbsolute, join, resolve } from "node:path";
import { VolantError } from "../errors.ts";
import { type MappingTarget, parseModeString } from "../manifest/fledge.ts";
import { DIR_MODE, fileMode } from "./modes.ts";
import { type ImageTree, joinGuest } from "./tree.ts";

/** What mapping added, for progress lines. */
export interface MappingStats {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
}

function notFound(field: string, path: string, cause: unknown): VolantError {
  return new VolantError("not_found", `${field}: ${path} does not exist`, {
    problems: [{ field, message: `${path} does not exist` }],
    cause,
  });
}

/** Resolves a host path from the config against the config's directory. */
export function hostPath(configDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(configDir, p);
}

function kindOf(info: Deno.FileInfo): string {
  if (info.isFifo) return "FIFO";
  if (info.isSocket) return "socket";
  if (info.isCharDevice) return "character device";
  if (info.isBlockDevice) return "block device";
  return "special file";
}

/** Applies every mapping, in sorted source order (the result does not depend on it). */
export function applyMappings(
  tree: ImageTree,
  mappings: Record<string, MappingTarget>,
  configDir: string,
  /** Absolute host paths never to copy (the output dir: a rebuild must not include itself). */
  exclude: readonly string[] = [],
): MappingStats {
  const stats: MappingStats = { files: 0, dirs: 0, symlinks: 0, bytes: 0 };
  const sources = Object.keys(mappings).sort();
  // Two mappings to one guest path are an error, whatever their order.
  const byTarget = new Map<string, string>();
  for (const src of sources) {
    const to = mappings[src].to;
    const other = byTarget.get(to);
    if (other !== undefined) {
      throw new VolantError(
        "invalid_input",
        `mappings: "${other}" and "${src}" both map to ${to}`,
        {
          problems: [{ field: `mappings.${src}`, message: `maps to ${to}, like "${other}"` }],
        },
      );
    }
    byTarget.set(to, src);
  }
  for (const src of sources) {
    const field = `mappings.${src}`;
    try {
      applyOne(tree, src, mappings[src], configDir, exclude, stats);
    } catch (error) {
      if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
      throw new VolantError("forbidden", `${field}: permission denied: ${error.message}`, {
        problems: [{ field, message: `permission denied: ${error.message}` }],
        cause: error,
      });
    }
  }
  return stats;
}

function applyOne(
  tree: ImageTree,
  src: string,
  target: MappingTarget,
  configDir: string,
  exclude: readonly string[],
  stats: MappingStats,
): void {
  const { to, mode } = target;
  const field = `mappings.${src}`;
  const override = mode === undefined ? undefined : parseModeString(mode);
  const abs = hostPath(configDir, src);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(abs);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw notFound(field, abs, error);
    throw error;
  }
  if (info.isFile) {
    if (to === "/") {
      throw new VolantError("invalid_input", `${field}: a file cannot be mapped to /`, {
        problems: [{ field, message: "a file cannot be mapped to /" }],
      });
    }
    addFile(tree, abs, to, info, field, override, stats);
  } else if (info.isDirectory) {
    if (to !== "/") tree.put(to, { type: "dir", mode: DIR_MODE, origin: field }, "builtin");
    walk(tree, Deno.realPathSync(abs), to, field, override, stats, new Set(exclude));
  } else {
    throw new VolantError("invalid_input", `${field}: ${abs} is a ${kindOf(info)}`, {
      problems: [{ field, message: `${abs} is a ${kindOf(info)}; map files or directories` }],
    });
  }
}

function addFile(
  tree: ImageTree,
  abs: string,
  to: string,
  info: Deno.FileInfo,
  origin: string,
  override: number | undefined,
  stats: MappingStats,
): void {
  const data = Deno.readFileSync(abs);
  const mode = fileMode(to, info.mode ?? 0o644, override);
  // Host hardlinks inside mapped trees stay hardlinks (same host inode and same mode).
  const link = (info.nlink ?? 1) > 1 ? `${info.dev}:${info.ino}:${mode.toString(8)}` : undefined;
  tree.put(to, { type: "file", mode, data, link, origin }, "builtin");
  stats.files++;
  stats.bytes += data.length;
}

function walk(
  tree: ImageTree,
  dir: string,
  guestDir: string,
  origin: string,
  override: number | undefined,
  stats: MappingStats,
  exclude: ReadonlySet<string>,
): void {
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  for (const name of names) {
    const abs = join(dir, name);
    if (exclude.has(abs)) continue;
    const to = joinGuest(guestDir, name);
    const info = Deno.lstatSync(abs);
    if (info.isSymlink) {
      tree.put(to, { type: "symlink", target: Deno.readLinkSync(abs), origin }, "builtin");
      stats.symlinks++;
    } else if (info.isFile) {
      addFile(tree, abs, to, info, origin, override, stats);
    } else if (info.isDirectory) {
      tree.put(to, { type: "dir", mode: DIR_MODE, origin }, "builtin");
      stats.dirs++;
      walk(tree, abs, to, origin, override, stats, exclude);
    } else {
      throw new VolantError("invalid_input", `${origin}: ${abs} is a ${kindOf(info)}`, {
        problems: [{ field: origin, message: `${abs} is a ${kindOf(info)}; it cannot be mapped` }],
      });
    }
  }
}
