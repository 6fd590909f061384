/**
 * Path resolution inside the image (never on the host): follows the image's own
 * symlinks so checks like "is the custom init executable?" see what the guest sees.
 *
 * @module
 */
import type { ImageNode, ImageTree } from "./tree.ts";
import { joinGuest, parentOf } from "./tree.ts";

const MAX_HOPS = 40;

/** The node `path` names in `tree` after following symlinks, or null. */
export function resolveInTree(tree: ImageTree, path: string): ImageNode | null {
  let hops = 0;
  let pending = path.split("/").filter((s) => s.length > 0);
  let current = "/";
  while (pending.length > 0) {
    const seg = pending.shift()!;
    if (seg === ".") continue;
    if (seg === "..") {
      current = parentOf(current);
      continue;
    }
    const next = joinGuest(current, seg);
    const node = tree.get(next);
    if (!node) return null;
    if (node.type === "symlink") {
      if (++hops > MAX_HOPS) return null;
      const parts = node.target.split("/").filter((s) => s.length > 0);
      if (node.target.startsWith("/")) current = "/";
      pending = [...parts, ...pending];
      continue;
    }
    current = next;
  }
  return tree.get(current) ?? null;
}
