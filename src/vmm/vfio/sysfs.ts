/**
 * What the VFIO code reads from and writes to the kernel's sysfs, with the
 * root as a parameter (`/sys` in production; a tree built by a test here,
 * where no IOMMU exists). Reads return null for a missing file or link.
 *
 * @module
 */
import { basename } from "node:path";

/** How a value reaches a sysfs attribute (the kernel reacts to the write). */
export type SysfsWrite = (path: string, value: string) => Promise<void>;

/** The real write: the attribute exists, so never create a file. */
export const writeAttribute: SysfsWrite = async (path, value) => {
  await Deno.writeTextFile(path, value, { create: false });
};

export async function readText(path: string): Promise<string | null> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** The last component of a symlink's target (`driver` -> `vfio-pci`), or null. */
export async function linkName(path: string): Promise<string | null> {
  try {
    return basename(await Deno.readLink(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

export async function listDir(path: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(path)) out.push(e.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return out.sort();
}

/** `0x10de` -> `10de`. */
export function hexId(v: string | null, width: number): string {
  return (v ?? "").replace(/^0x/i, "").toLowerCase().padStart(width, "0");
}
