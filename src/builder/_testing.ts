/**
 * Helpers for the fledge integration tests: run the real CLI as a subprocess and
 * lay out small projects in temp dirs.
 *
 * The shim is an input of the build like any other file; tests that do not boot
 * use a stand-in (a copy of the static busybox, a real static ELF) unless the real
 * shim from `deno task agent` exists. Booting is tested by the guest/e2e suites.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { defaultShimPath } from "./build.ts";

export const REPO = new URL("../../", import.meta.url).pathname;
export const MAIN = join(REPO, "src", "main.ts");

/** Result of a CLI run. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `fledge <args>` through src/main.ts. */
export async function fledge(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, "fledge", ...args],
    cwd: opts.cwd,
    env: { NO_COLOR: "1", ...opts.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Writes `files` (path -> text, or [text, mode]) under `dir`. */
export function layout(dir: string, files: Record<string, string | [string, number]>): void {
  for (const [rel, spec] of Object.entries(files)) {
    const path = join(dir, rel);
    Deno.mkdirSync(dirname(path), { recursive: true });
    const [text, mode] = typeof spec === "string" ? [spec, 0o644] : spec;
    Deno.writeTextFileSync(path, text);
    Deno.chmodSync(path, mode);
  }
}

/** The shim to build with: the real one when built, else a static stand-in copied into `dir`. */
export function shimFor(dir: string): string {
  try {
    Deno.statSync(defaultShimPath());
    return defaultShimPath();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const standIn = join(dir, "stand-in-shim");
  try {
    Deno.copyFileSync("/bin/busybox", standIn);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error("/bin/busybox is missing: apt-get install -y busybox-static");
    }
    throw error;
  }
  return standIn;
}

/** Names of everything under `dir` (recursive, relative, sorted). */
export function listTree(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
    const rel = prefix + e.name;
    out.push(rel);
    if (e.isDirectory) out.push(...listTree(join(dir, e.name), rel + "/"));
  }
  return out;
}
