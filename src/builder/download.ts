/**
 * Downloads for the build (busybox, kestrel): in memory, with a timeout, and
 * always verified against a sha256 before anything uses the bytes.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { verifySha256 } from "./digest.ts";

/** Options for {@linkcode download}. */
export interface DownloadOptions {
  /** Config field named in errors, e.g. `source.busybox_url`. */
  field: string;
  /** Expected `sha256:<hex>` or bare hex. */
  sha256: string;
  /** Whole-request timeout in ms (default 120 000, env FLEDGE_DOWNLOAD_TIMEOUT_MS). */
  timeoutMs?: number;
}

function defaultTimeout(): number {
  const raw = Deno.env.get("FLEDGE_DOWNLOAD_TIMEOUT_MS");
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : 120_000;
}

/** GETs `url`, checks the status and the sha256, and returns the body. */
export async function download(url: string, options: DownloadOptions): Promise<Uint8Array> {
  const { field, sha256 } = options;
  const timeoutMs = options.timeoutMs ?? defaultTimeout();
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
  } catch (error) {
    const why = error instanceof DOMException && error.name === "TimeoutError"
      ? `timed out after ${timeoutMs} ms`
      : error instanceof Error
      ? error.message
      : String(error);
    throw new VolantError("upstream", `${field}: cannot download ${url}: ${why}`, {
      problems: [{ field, message: `cannot download ${url}: ${why}` }],
      cause: error,
    });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new VolantError("upstream", `${field}: ${url} answered HTTP ${response.status}`, {
      problems: [{ field, message: `${url} answered HTTP ${response.status}` }],
    });
  }
  const data = new Uint8Array(await response.arrayBuffer());
  verifySha256(data, sha256, field);
  return data;
}
