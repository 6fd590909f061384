/**
 * Writing the outputs: each file goes to a temporary name inside the output
 * directory and is renamed into place, so a failed build never leaves a
 * half-written artifact; SHA256SUMS (sha256sum -c format) is updated last.
 *
 * @module
 */
import { join } from "node:path";
import { sha256Hex } from "./digest.ts";

/** One output file. */
export interface OutputFile {
  file: string;
  data: Uint8Array;
}

/** The SHA256SUMS file name. */
export const SUMS_FILE = "SHA256SUMS";

/** Parses SHA256SUMS lines (`<hex>  <file>` or `<hex> *<file>`) into file -> hex. */
export function parseSums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (m) out.set(m[2], m[1]);
  }
  return out;
}

/** SHA256SUMS text for `sums`, sorted by file name. */
export function formatSums(sums: Map<string, string>): string {
  return [...sums.keys()].sort().map((f) => `${sums.get(f)}  ${f}\n`).join("");
}

function writeAtomic(dir: string, file: string, data: Uint8Array, temps: string[]): void {
  const tmp = join(dir, `.${file}.tmp-${Deno.pid}`);
  temps.push(tmp);
  Deno.writeFileSync(tmp, data, { mode: 0o644 });
  Deno.renameSync(tmp, join(dir, file));
  temps.pop();
}

/**
 * Writes `files` into `dir` and merges their digests into `dir/SHA256SUMS`
 * (lines of other files already listed there are kept).
 */
export function writeOutputs(dir: string, files: OutputFile[]): { sha256sums: string } {
  const temps: string[] = [];
  const sumsPath = join(dir, SUMS_FILE);
  try {
    let sums = new Map<string, string>();
    try {
      sums = parseSums(Deno.readTextFileSync(sumsPath));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    for (const f of files) {
      writeAtomic(dir, f.file, f.data, temps);
      sums.set(f.file, sha256Hex(f.data));
    }
    writeAtomic(dir, SUMS_FILE, new TextEncoder().encode(formatSums(sums)), temps);
    return { sha256sums: sumsPath };
  } finally {
    // Only our own temporaries; a failure to remove one must not hide the build error.
    for (const t of temps) {
      Deno.remove(t).catch((e) => console.error(`fledge: cannot remove ${t}: ${e}`));
    }
  }
}
