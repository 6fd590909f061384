/**
 * `[mappings]` for oci_rootfs: host files put over the unpacked image (a
 * custom nginx.conf, a site), with the same rules as the initramfs builder
 * (src/builder/mappings.ts validates and reads them into an ImageTree; this
 * writes that tree's entries onto the rootfs directory). Mapped entries are
 * owned by root with mtime SOURCE_DATE_EPOCH; an existing directory keeps its
 * own metadata; a file or
 * symlink replaces what was there. A parent that is a symlink is refused
 * (never followed), like during the unpack.
 *
 * @module
 */
import { lchownSync, lutimesSync } from "node:fs";
import { VolantError } from "../../errors.ts";
import type { MappingTarget } from "../../manifest/fledge.ts";
import { applyMappings } from "../mappings.ts";
import { ImageTree } from "../tree.ts";
import type { Fixups } from "./fixups.ts";

function lstatOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** Applies `mappings` onto `root`; returns how many entries were written. */
export function overlayMappings(
  root: string,
  mappings: Record<string, MappingTarget>,
  configDir: string,
  fixups: Fixups | null,
  mtime: number,
  exclude: readonly string[] = [],
): number {
  const tree = new ImageTree();
  applyMappings(tree, mappings, configDir, exclude);
  const entries = tree.toCpioInputs().sort((a, b) => a.path < b.path ? -1 : 1);
  const links = new Map<string, string>();
  const created: string[] = [];
  let written = 0;
  for (const e of entries) {
    if (e.path === "/") continue;
    const rel = e.path.slice(1);
    const abs = `${root}/${rel}`;
    const segs = rel.split("/");
    for (let i = 1; i < segs.length; i++) {
      const p = `${root}/${segs.slice(0, i).join("/")}`;
      const st = lstatOrNull(p);
      if (st?.isSymlink || (st !== null && !st.isDirectory)) {
        throw new VolantError(
          "invalid_input",
          `mappings: ${e.path} goes through /${segs.slice(0, i).join("/")}, which is ${
            st.isSymlink ? "a symlink in the image (mappings never follow symlinks)" : "a file"
          }`,
          { problems: [{ field: "mappings", message: `${e.path}: parent is not a directory` }] },
        );
      }
    }
    const existing = lstatOrNull(abs);
    const own = () => {
      if (fixups !== null) fixups.owners.set(rel, { uid: 0, gid: 0 });
      else lchownSync(abs, 0, 0);
    };
    if (e.type === "dir") {
      if (existing?.isDirectory) continue;
      if (existing !== null) {
        // The image's own symlink or file at a directory of the mapping: never replaced, never followed.
        throw new VolantError(
          "invalid_input",
          `mappings: ${e.path} is ${
            existing.isSymlink ? "a symlink" : "a file"
          } in the image, the mapping needs a directory there (mappings never follow symlinks)`,
          {
            problems: [{ field: "mappings", message: `${e.path} is not a directory in the image` }],
          },
        );
      }
      Deno.mkdirSync(abs);
      own();
      Deno.chmodSync(abs, e.mode); // after chown, which clears setuid/setgid
      created.push(abs);
    } else if (e.type === "symlink" || e.type === "file") {
      if (existing !== null) Deno.removeSync(abs, { recursive: true });
      fixups?.drop(rel);
      if (e.type === "symlink") {
        Deno.symlinkSync(e.target, abs);
        own();
      } else {
        const first = e.link === undefined ? undefined : links.get(e.link);
        if (first !== undefined) Deno.linkSync(first, abs);
        else {
          Deno.writeFileSync(abs, e.data);
          own();
          Deno.chmodSync(abs, e.mode);
          if (e.link !== undefined) links.set(e.link, abs);
        }
      }
      lutimesSync(abs, mtime, mtime);
    } else continue; // applyMappings refuses devices
    written++;
  }
  // New directories last, deepest first: adding their children changed their mtimes.
  for (const d of created.reverse()) Deno.utimeSync(d, mtime, mtime);
  return written;
}
