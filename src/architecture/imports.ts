/**
 * The import graph of the repository's TypeScript, read from the source text:
 * every static `import`/`export ... from` and every `import("...")` with a
 * literal specifier, resolved to repo-relative paths (or left as written for
 * npm:, node: and bare specifiers). Used by architecture_test.ts to check the
 * dependency rules of docs/development.md.
 *
 * @module
 */
import { dirname, join, normalize, relative } from "node:path";

/** One import of a module. */
export interface Import {
  /** Repo-relative path of a local module, or the specifier as written (`npm:`, `node:`, `hono`). */
  target: string;
  /** `import type` / `export type`: erased at run time. */
  typeOnly: boolean;
  /** `import("...")`: loaded when it runs, not when the importer loads. */
  dynamic: boolean;
}

/** A module and what it imports. */
export interface ModuleInfo {
  path: string;
  imports: Import[];
  /** Calls `Deno.dlopen(`. */
  dlopen: boolean;
}

/** Blanks comments and the bodies of template literals, so examples in docs do not count. */
export function stripComments(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const n = text[i + 1];
    if (c === "/" && n === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, " ");
      i = stop;
    } else if (c === "/" && n === "/") {
      const end = text.indexOf("\n", i);
      const stop = end < 0 ? text.length : end;
      out += " ".repeat(stop - i);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== "\n") j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "`") {
      let j = i + 1;
      while (j < text.length && text[j] !== "`") j += text[j] === "\\" ? 2 : 1;
      out += "`" + text.slice(i + 1, j).replace(/[^\n]/g, " ") + "`";
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const STATIC = /(?:^|[;\n}])\s*(import|export)\s+(type\s+)?([^;"']*?)\s*from\s*["']([^"']+)["']/g;
const SIDE_EFFECT = /(?:^|[;\n])\s*import\s*["']([^"']+)["']/g;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** The imports of one module's source text. */
export function parseImports(
  source: string,
): { specifier: string; typeOnly: boolean; dynamic: boolean }[] {
  const text = stripComments(source);
  const out: { specifier: string; typeOnly: boolean; dynamic: boolean }[] = [];
  for (const m of text.matchAll(STATIC)) {
    // `import { type A, type B }` is type-only too.
    const names = m[3].replace(/^\{|\}$/g, "").split(",").map((s) => s.trim()).filter(Boolean);
    const allTypes = names.length > 0 && m[3].startsWith("{") &&
      names.every((s) => s.startsWith("type "));
    out.push({ specifier: m[4], typeOnly: Boolean(m[2]) || allTypes, dynamic: false });
  }
  for (const m of text.matchAll(SIDE_EFFECT)) {
    out.push({ specifier: m[1], typeOnly: false, dynamic: false });
  }
  for (const m of text.matchAll(DYNAMIC)) {
    out.push({ specifier: m[1], typeOnly: false, dynamic: true });
  }
  return out;
}

/** Every .ts file under `dirs` of `root`, repo-relative, sorted. */
export async function listModules(root: string, dirs: string[]): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(join(root, dir))) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory && e.name !== "node_modules" && !e.name.startsWith(".")) await walk(rel);
      else if (e.isFile && /\.(ts|tsx|mts)$/.test(e.name)) files.push(rel);
    }
  };
  for (const d of dirs) await walk(d);
  return files.sort();
}

/** Reads and resolves the imports of `files` (repo-relative). */
export async function readModules(root: string, files: string[]): Promise<ModuleInfo[]> {
  const out: ModuleInfo[] = [];
  for (const path of files) {
    const source = await Deno.readTextFile(join(root, path));
    const imports = parseImports(source).map(({ specifier, typeOnly, dynamic }) => ({
      target: specifier.startsWith(".")
        ? normalize(relative(root, join(root, dirname(path), specifier)))
        : specifier,
      typeOnly,
      dynamic,
    }));
    out.push({ path, imports, dlopen: /\bDeno\.dlopen\s*\(/.test(stripComments(source)) });
  }
  return out;
}

/** Every elementary cycle's smallest representative, found by DFS over `edges`. */
export function findCycles(edges: Map<string, string[]>): string[][] {
  const cycles = new Map<string, string[]>();
  const state = new Map<string, "active" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "active");
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === "active") {
        const cycle = stack.slice(stack.indexOf(next));
        // Rotate so the smallest name leads: one key per cycle.
        const start = cycle.indexOf([...cycle].sort()[0]);
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        cycles.set(rotated.join(" -> "), rotated);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...edges.keys()].sort()) if (!state.has(node)) visit(node);
  return [...cycles.values()];
}

/**
 * What loading `entry` (repo-relative) loads with it: the closure of its
 * static value imports (type-only and `import()` excluded), each mapped to
 * the module that first imports it. Imports outside the repo (npm, `node:`,
 * bare specifiers) are leaves; the start-up tests forbid them on hot paths.
 */
export async function loadedAtStart(root: string, entry: string): Promise<Map<string, string>> {
  const from = new Map<string, string>([[entry, ""]]);
  const todo = [entry];
  while (todo.length > 0) {
    const path = todo.pop()!;
    if (!/\.(ts|tsx|mts)$/.test(path)) continue; // JSON and other data: no imports
    const [info] = await readModules(root, [path]);
    for (const i of info.imports) {
      if (i.typeOnly || i.dynamic || from.has(i.target)) continue;
      from.set(i.target, path);
      if (!isOutside(i.target)) todo.push(i.target);
    }
  }
  return from;
}

/** An import that is not a file of the repo: `npm:`, `node:`, `jsr:` or a bare (mapped) name. */
export function isOutside(target: string): boolean {
  return /^[a-z]+:/.test(target) || !/\.(ts|tsx|mts|json)$/.test(target);
}

/** Each import outside the repo that loading `entry` loads, as "target <- importer <- ...". */
export async function outsideAtStart(root: string, entry: string): Promise<string[]> {
  const from = await loadedAtStart(root, entry);
  return [...from.keys()].filter(isOutside).map((target) => {
    const chain = [target];
    for (let at = from.get(target); at; at = from.get(at)) chain.push(at);
    return chain.join(" <- ");
  });
}
