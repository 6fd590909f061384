/**
 * The shared libraries a dynamically linked binary (deno, or a compiled
 * kestrel) needs in the image, from `ldd`.
 *
 * @module
 */
import { basename } from "node:path";
import { AgentBuildError, run } from "./run.ts";

/** `ldd` output to soname -> path (as printed; the loader under its own basename). */
export function parseLdd(text: string): Map<string, string> {
  const libs = new Map<string, string>();
  for (const line of text.split("\n")) {
    const arrow = /^\s*(\S+) => (\/\S+)/.exec(line);
    const bare = /^\s*(\/\S+ld-linux\S*) \(/.exec(line);
    if (arrow) libs.set(arrow[1], arrow[2]);
    else if (bare) libs.set(basename(bare[1]), bare[1]);
  }
  return libs;
}

/** The binary's shared libraries (ldd), resolved to real files, by soname. */
export async function denoLibraries(deno: string): Promise<Map<string, string>> {
  const libs = new Map<string, string>();
  for (const [name, path] of parseLdd(await run("ldd", [deno]))) {
    libs.set(name, await Deno.realPath(path));
  }
  if (!libs.has("ld-linux-x86-64.so.2") || !libs.has("libc.so.6")) {
    throw new AgentBuildError(`ldd ${deno}: no ld-linux-x86-64.so.2/libc.so.6 found`);
  }
  return libs;
}
