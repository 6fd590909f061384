/**
 * `--user-data FILE` / `--meta-data FILE` of `volar vms create`: the file's text
 * becomes the VM's own cloud-init document (it replaces the manifest's).
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { absolutePath } from "./paths.ts";

/** Reads `arg` (relative to `cwd`; `-` = stdin); one-line usage errors naming the flag. */
export async function readDocFlag(
  flag: string,
  arg: string,
  cwd: string,
  stdin: ReadableStream<Uint8Array>,
): Promise<string> {
  if (arg === "-") return await new Response(stdin).text();
  const file = absolutePath(cwd, arg);
  const bad = (why: string) =>
    new VolantError("usage", `--${flag}: ${file}: ${why}`, {
      problems: [{ field: `--${flag}`, message: `${file}: ${why}` }],
    });
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw bad("no such file");
    if (error instanceof Deno.errors.PermissionDenied) throw bad("permission denied");
    if (error instanceof Deno.errors.IsADirectory) throw bad("is a directory");
    throw error;
  }
}
