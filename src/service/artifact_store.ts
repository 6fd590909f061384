/**
 * The content-addressed artifact store `<state>/artifacts/sha256/<hex>`,
 * shared by every plugin and VM. A download goes to a temp file in the same
 * directory, is hashed while it streams, and is renamed into place only when
 * the digest matches, so a blob path always holds exactly its digest.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { VolantError } from "../errors.ts";
import { fileProblem } from "./fs_problem.ts";

/** Where an artifact's bytes come from (already vetted by plugin_source.ts). */
export type ArtifactSource = { kind: "http"; url: string } | { kind: "file"; path: string };

export interface StoredBlob {
  sha256: string;
  size: number;
  path: string;
  /** False when the blob was already there (nothing downloaded). */
  created: boolean;
}

/** Opens an http(s) source: the guarded download of guarded_fetch.ts, bound to a policy. */
export type HttpOpener = (
  url: string,
  field: string,
) => Promise<{ body: AsyncIterable<Uint8Array>; total: number | null }>;

export interface FetchOptions {
  /** Lower-case hex digest to verify, or undefined (unverified). */
  expected?: string;
  /** Field the artifact came from, for error messages (`rootfs`, `disks.0`). */
  field: string;
  /** Opens http(s) sources. */
  openHttp: HttpOpener;
  onProgress?: (bytes: number, total: number | null) => void;
}

/**
 * The port the plugin service stores artifacts through (ArtifactStore is the
 * file-system adapter; createServices builds it unless one is injected).
 */
export interface ArtifactBlobs {
  /** Streams `source` into the store, verifying the digest when one is expected. */
  put(source: ArtifactSource, opts: FetchOptions): Promise<StoredBlob>;
  /** Removes partial downloads a crash left; returns how many. */
  cleanTemp(): Promise<number>;
  /** Removes blobs whose paths are not in `keep`; returns how many. */
  collect(keep: ReadonlySet<string>): Promise<number>;
}

export class ArtifactStore implements ArtifactBlobs {
  readonly root: string;

  constructor(stateDir: string) {
    this.root = `${stateDir}/artifacts/sha256`;
  }

  pathFor(hex: string): string {
    return `${this.root}/${hex}`;
  }

  async #exists(path: string): Promise<boolean> {
    try {
      return (await Deno.stat(path)).isFile;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /**
   * Stores the source's bytes. The source is always read, even when a blob
   * with the expected digest is present: knowing another plugin's hash must
   * not be enough to borrow its artifact.
   */
  async put(source: ArtifactSource, opts: FetchOptions): Promise<StoredBlob> {
    await Deno.mkdir(this.root, { recursive: true, mode: 0o755 });
    const { stream, total } = await this.#open(source, opts);
    const tmp = `${this.root}/.tmp-${crypto.randomUUID()}`;
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    const hash = createHash("sha256");
    let size = 0;
    try {
      try {
        for await (const chunk of stream) {
          hash.update(chunk);
          size += chunk.byteLength;
          let off = 0;
          while (off < chunk.byteLength) off += await file.write(chunk.subarray(off));
          opts.onProgress?.(size, total);
        }
      } finally {
        file.close();
      }
      const actual = hash.digest("hex");
      const where = source.kind === "http" ? source.url : source.path;
      if (total !== null && size !== total) {
        throw new VolantError(
          "upstream",
          `${opts.field}: download of ${where} ended after ${size} of ${total} bytes`,
        );
      }
      if (opts.expected && actual !== opts.expected) {
        // A host file's real digest is not echoed: it would tell the caller
        // something about a file it may not be able to read itself.
        const got = source.kind === "http" ? `, got ${actual}` : "";
        throw new VolantError(
          "checksum_mismatch",
          `${opts.field}: sha256 mismatch for ${where}: expected ${opts.expected}${got}`,
          {
            problems: [{
              field: `${opts.field}.checksum`,
              message: `expected ${opts.expected}${got}`,
            }],
            details: source.kind === "http"
              ? { expected: opts.expected, actual, url: where }
              : { expected: opts.expected, path: where },
          },
        );
      }
      const dest = this.pathFor(actual);
      const created = !(await this.#exists(dest));
      if (created) await Deno.rename(tmp, dest);
      else await Deno.remove(tmp);
      return { sha256: actual, size, path: dest, created };
    } catch (error) {
      await Deno.remove(tmp).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      throw error;
    }
  }

  async #open(
    source: ArtifactSource,
    opts: FetchOptions,
  ): Promise<{ stream: AsyncIterable<Uint8Array>; total: number | null }> {
    if (source.kind === "http") {
      const { body, total } = await opts.openHttp(source.url, opts.field);
      return { stream: body, total };
    }
    let file: Deno.FsFile;
    try {
      file = await Deno.open(source.path, { read: true });
    } catch (cause) {
      throw fileProblem(opts.field, source.path, cause);
    }
    return { stream: readFile(file, opts.field, source.path), total: (await file.stat()).size };
  }

  /** Removes temp files a crash left mid-download; returns how many. */
  async cleanTemp(): Promise<number> {
    let removed = 0;
    try {
      for await (const entry of Deno.readDir(this.root)) {
        if (!entry.name.startsWith(".tmp-")) continue;
        await Deno.remove(`${this.root}/${entry.name}`);
        removed++;
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return removed;
      throw error;
    }
    return removed;
  }

  /** Removes blobs not in `keep` (full paths); returns how many were removed. */
  async collect(keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    try {
      for await (const entry of Deno.readDir(this.root)) {
        if (!entry.isFile || !/^[0-9a-f]{64}$/.test(entry.name)) continue;
        const path = this.pathFor(entry.name);
        if (keep.has(path)) continue;
        await Deno.remove(path);
        removed++;
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return removed;
      throw error;
    }
    return removed;
  }
}

/** A file's bytes; a read error (EIO and the like) becomes a clear 4xx naming the field. */
async function* readFile(file: Deno.FsFile, field: string, path: string) {
  try {
    for await (const chunk of file.readable) yield chunk;
  } catch (cause) {
    throw fileProblem(field, path, cause);
  }
}
