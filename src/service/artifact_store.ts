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

/** Where an artifact's bytes come from (already vetted by plugin_source.ts). */
export type ArtifactSource = { kind: "http"; url: string } | { kind: "file"; path: string };

export interface StoredBlob {
  sha256: string;
  size: number;
  path: string;
  /** False when the blob was already there (nothing downloaded). */
  created: boolean;
}

export interface FetchOptions {
  /** Lower-case hex digest to verify, or undefined (unverified). */
  expected?: string;
  /** Field the artifact came from, for error messages (`rootfs`, `disks.0`). */
  field: string;
  fetch: typeof fetch;
  signal?: AbortSignal;
  onProgress?: (bytes: number, total: number | null) => void;
}

export class ArtifactStore {
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

  /** Stores the source's bytes; with `expected` set and the blob present, downloads nothing. */
  async put(source: ArtifactSource, opts: FetchOptions): Promise<StoredBlob> {
    await Deno.mkdir(this.root, { recursive: true, mode: 0o755 });
    if (opts.expected && await this.#exists(this.pathFor(opts.expected))) {
      const size = (await Deno.stat(this.pathFor(opts.expected))).size;
      opts.onProgress?.(size, size);
      return { sha256: opts.expected, size, path: this.pathFor(opts.expected), created: false };
    }
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
        throw new VolantError(
          "checksum_mismatch",
          `${opts.field}: sha256 mismatch for ${where}: expected ${opts.expected}, got ${actual}`,
          {
            problems: [{
              field: `${opts.field}.checksum`,
              message: `expected ${opts.expected}, got ${actual}`,
            }],
            details: { expected: opts.expected, actual, url: where },
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
    if (source.kind === "file") {
      try {
        const file = await Deno.open(source.path, { read: true });
        const total = (await file.stat()).size;
        return { stream: file.readable, total };
      } catch (cause) {
        if (cause instanceof Deno.errors.NotFound) {
          throw new VolantError("invalid_input", `${opts.field}: ${source.path} does not exist`, {
            problems: [{ field: opts.field, message: `${source.path} does not exist` }],
            cause,
          });
        }
        throw cause;
      }
    }
    let res: Response;
    try {
      res = await opts.fetch(source.url, { signal: opts.signal, redirect: "follow" });
    } catch (cause) {
      throw new VolantError(
        "upstream",
        `${opts.field}: cannot download ${source.url}: ${(cause as Error).message ?? cause}`,
        { cause },
      );
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new VolantError(
        "upstream",
        `${opts.field}: downloading ${source.url} answered HTTP ${res.status}`,
        { details: { status: res.status, url: source.url } },
      );
    }
    const len = res.headers.get("content-length");
    return { stream: res.body, total: len !== null && /^\d+$/.test(len) ? Number(len) : null };
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
