/**
 * What `volar setup` changed on this host, kept in `<work-dir>/setup.json`
 * after every step, so `volar setup --uninstall` reverses exactly that and
 * nothing else (a bridge or nft table that existed before setup stays).
 *
 * @module
 */
import { VolantError } from "../../errors.ts";

export interface WrittenFile {
  path: string;
  /** The text it replaced (unit, sysctl file); absent when setup created the file. */
  previous?: string;
  /** Replaced a binary file whose old bytes are gone: uninstall leaves it. */
  replaced?: boolean;
}

export interface SetupRecord {
  version: 1;
  /** Directories setup created, in creation order. */
  dirs: string[];
  files: WrittenFile[];
  /** The bridge setup created. */
  bridge?: string;
  /** Setup created (or replaced) the `inet volant` nft table. */
  nat?: boolean;
  /** ip_forward before setup turned it on. */
  ipForwardWas?: string;
  /** Setup enabled and started volantd.service. */
  service?: string;
}

export function emptyRecord(): SetupRecord {
  return { version: 1, dirs: [], files: [] };
}

export function recordPath(workDir: string): string {
  return `${workDir}/setup.json`;
}

/** The record, or null when setup never ran here. */
export async function loadRecord(workDir: string): Promise<SetupRecord | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(recordPath(workDir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  try {
    const r = JSON.parse(text) as SetupRecord;
    if (r.version !== 1 || !Array.isArray(r.dirs) || !Array.isArray(r.files)) {
      throw new Error("unknown layout");
    }
    return r;
  } catch (error) {
    throw new VolantError(
      "invalid_input",
      `${recordPath(workDir)} is not a setup record (${(error as Error).message}): ` +
        "move it away and run setup again",
      { cause: error },
    );
  }
}

/** Writes the record atomically (temp file + rename); an empty record removes the file. */
export async function saveRecord(workDir: string, r: SetupRecord): Promise<void> {
  const path = recordPath(workDir);
  const empty = r.dirs.length === 0 && r.files.length === 0 && !r.bridge && !r.nat &&
    r.ipForwardWas === undefined && !r.service;
  if (empty) {
    await Deno.remove(path).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    return;
  }
  try {
    await Deno.stat(workDir);
  } catch (e) {
    // The work dir itself was rolled back: nothing left to record there.
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(r, null, 2) + "\n", { mode: 0o600 });
  await Deno.rename(tmp, path);
}
