/**
 * A content-addressed blob cache: `<dir>/sha256/<hex>` holds exactly the bytes
 * whose sha256 is `<hex>`. A download goes to `<hex>.partial` (kept on failure,
 * so the next build resumes with an HTTP Range request after re-hashing what is
 * already there) and is renamed into place only once its digest matches.
 *
 * @module
 */
import { join } from "node:path";
import { VolantError } from "../../errors.ts";
import { mismatch, Sha256 } from "./digest_stream.ts";

/** Opens the blob from `offset`: the body, and whether the source honoured the offset. */
export type BlobOpener = (
  offset: number,
) => Promise<{ body: ReadableStream<Uint8Array>; resumed: boolean }>;

/** Reads `body` into `sink`, chunk by chunk (the caller bounds stalls). */
export type BodyReader = (
  body: ReadableStream<Uint8Array>,
  onChunk: (chunk: Uint8Array) => void,
) => Promise<void>;

export class BlobCache {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  /** Where the blob lives (whether or not it is there yet). */
  path(digest: string): string {
    return join(this.dir, "sha256", digest.slice("sha256:".length));
  }

  /** True when the verified blob is in the cache. */
  has(digest: string): boolean {
    try {
      return Deno.statSync(this.path(digest)).isFile;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /** Stores `data` under its digest after checking it is `digest`. */
  putBytes(digest: string, data: Uint8Array, what: string): void {
    const h = new Sha256();
    h.update(data);
    const actual = h.digest();
    if (actual !== digest) throw mismatch(what, digest, actual);
    if (this.has(digest)) return;
    Deno.mkdirSync(join(this.dir, "sha256"), { recursive: true });
    const tmp = `${this.path(digest)}.${crypto.randomUUID()}.tmp`;
    Deno.writeFileSync(tmp, data);
    Deno.renameSync(tmp, this.path(digest));
  }

  /**
   * Makes sure the blob is cached: resumes a partial download, hashes every
   * byte, renames on success. Returns the bytes fetched now (0 on a cache hit).
   */
  async fetch(
    digest: string,
    size: number | undefined,
    what: string,
    open: BlobOpener,
    read: BodyReader,
    onProgress?: (bytes: number, total: number | undefined) => void,
  ): Promise<number> {
    const dest = this.path(digest);
    if (this.has(digest)) return 0;
    Deno.mkdirSync(join(this.dir, "sha256"), { recursive: true });
    const partial = `${dest}.partial`;
    const h = new Sha256();
    let offset = 0;
    try {
      using f = Deno.openSync(partial, { read: true });
      const buf = new Uint8Array(1 << 20);
      for (let n; (n = f.readSync(buf)) !== null;) h.update(buf.subarray(0, n));
      offset = h.bytes;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    let fresh = h;
    let { body, resumed } = await open(offset);
    if (offset > 0 && !resumed) {
      fresh = new Sha256();
      offset = 0;
    }
    if (size !== undefined && offset > size) {
      await body.cancel();
      Deno.removeSync(partial);
      ({ body } = await open(0));
      fresh = new Sha256();
      offset = 0;
    }
    let fetched = 0;
    {
      using out = Deno.openSync(partial, {
        write: true,
        create: true,
        truncate: offset === 0,
        append: offset > 0,
      });
      await read(body, (chunk) => {
        fresh.update(chunk);
        fetched += chunk.length;
        for (let w = 0; w < chunk.length;) w += out.writeSync(chunk.subarray(w));
        if (size !== undefined && fresh.bytes > size) {
          throw new VolantError(
            "checksum_mismatch",
            `${what}: more than the ${size} bytes declared`,
          );
        }
        onProgress?.(fresh.bytes, size);
      }).catch((error) => {
        // A mismatch can never become right by resuming: start over next time.
        if (error instanceof VolantError && error.code === "checksum_mismatch") {
          Deno.removeSync(partial);
        }
        throw error;
      });
    }
    const actual = fresh.digest();
    if (actual !== digest) {
      Deno.removeSync(partial);
      throw mismatch(what, digest, actual);
    }
    Deno.renameSync(partial, dest);
    return fetched;
  }
}
