/**
 * The image being assembled, in memory: guest path -> node, with the layer that
 * put each node there so conflicts can name both sides. Later layers replace
 * earlier ones (skeleton < busybox < agent < init < mappings), but two
 * mappings may not claim the same path (the Go fledge let random map order decide).
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { CpioInput } from "./cpio.ts";
import { DIR_MODE } from "./modes.ts";

/** A node of the image; `origin` is the config field or layer that created it. */
export type ImageNode =
  & { origin: string }
  & (
    | { type: "dir"; mode: number }
    | { type: "file"; mode: number; data: Uint8Array; link?: string }
    | { type: "symlink"; target: string }
    | { type: "char" | "block"; mode: number; major: number; minor: number }
  );

/** Whether a new node may replace an existing one. */
export type Replace = "never" | "builtin";

const BUILTIN = /^(skeleton|busybox|agent|init|shim)/;

/** Parent of a normalised guest path ("/a/b" -> "/a"; "/a" -> "/"). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** Joins guest path segments: joinGuest("/", "bin") = "/bin". */
export function joinGuest(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/** The in-memory image. */
export class ImageTree {
  readonly #nodes = new Map<string, ImageNode>([["/", {
    type: "dir",
    mode: DIR_MODE,
    origin: "skeleton",
  }]]);

  /** The node at `path`, if any. */
  get(path: string): ImageNode | undefined {
    return this.#nodes.get(path);
  }

  /** Number of nodes, the root included. */
  get size(): number {
    return this.#nodes.size;
  }

  /** Creates `path` and its missing parents as directories (mode 0755). */
  mkdirp(path: string, origin: string, mode = DIR_MODE): void {
    if (path === "/") return;
    const existing = this.#nodes.get(path);
    if (existing?.type === "dir") return;
    this.mkdirp(parentOf(path), origin);
    if (existing) {
      throw new VolantError(
        "invalid_input",
        `${origin}: ${path} must be a directory, but ${existing.origin} put a ${existing.type} there`,
      );
    }
    this.#nodes.set(path, { type: "dir", mode, origin });
  }

  /**
   * Puts `node` at `path`, creating parents. `replace: "builtin"` lets it replace
   * what a built-in layer put there; anything else is a conflict.
   */
  put(path: string, node: ImageNode, replace: Replace = "never"): void {
    this.mkdirp(parentOf(path), node.origin);
    const existing = this.#nodes.get(path);
    if (existing) {
      if (existing.type === "dir" && node.type === "dir") {
        existing.mode = node.mode;
        return;
      }
      const may = replace === "builtin" && BUILTIN.test(existing.origin) && existing.type !== "dir";
      if (!may) {
        throw new VolantError(
          "invalid_input",
          `${node.origin}: ${path} is already provided by ${existing.origin}`,
        );
      }
    }
    this.#nodes.set(path, node);
  }

  /** All nodes as cpio inputs (the writer sorts them). */
  toCpioInputs(): CpioInput[] {
    const out: CpioInput[] = [];
    for (const [path, n] of this.#nodes) {
      switch (n.type) {
        case "dir":
          out.push({ type: "dir", path, mode: n.mode });
          break;
        case "file":
          out.push({ type: "file", path, mode: n.mode, data: n.data, link: n.link });
          break;
        case "symlink":
          out.push({ type: "symlink", path, target: n.target });
          break;
        default:
          out.push({ type: n.type, path, mode: n.mode, major: n.major, minor: n.minor });
      }
    }
    return out;
  }

  /** Total bytes of file data (hardlinks counted once). */
  dataBytes(): number {
    let total = 0;
    const seen = new Set<string>();
    for (const n of this.#nodes.values()) {
      if (n.type !== "file") continue;
      if (n.link !== undefined) {
        if (seen.has(n.link)) continue;
        seen.add(n.link);
      }
      total += n.data.length;
    }
    return total;
  }
}
