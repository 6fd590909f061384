/**
 * `node:path`'s `resolve(cwd, p)` for the CLI's file arguments, without
 * loading Deno's Node layer (tens of ms at every volar start).
 *
 * @module
 */

/** `p` made absolute against `cwd` and normalised (`.`, `..`, repeated and trailing `/`). */
export function absolutePath(cwd: string, p: string): string {
  const joined = p.startsWith("/") ? p : `${cwd}/${p}`;
  const parts: string[] = [];
  for (const part of joined.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}
