/**
 * Downloads for the daemon (manifests, artifacts) under a destination policy
 * and hard limits: the host is checked before every request and every
 * redirect hop (source_policy.ts), headers must arrive within a timeout, the
 * body may not pause longer than another, it may not exceed a size cap (nor
 * its declared size), and it is never decoded (`Accept-Encoding: identity`:
 * a 200 KB gzip bomb stays 200 KB, and the checksum covers the bytes sent).
 *
 * Failures to connect all read the same ("no answer"), so a caller cannot
 * tell closed ports from filtered ones through the daemon.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { VolantError } from "../errors.ts";
import { classifyAddress, refusal, type SourcePolicy } from "./source_policy.ts";

/** Host name -> its addresses (as the fetch below will connect to them). */
export type Resolver = (hostname: string) => Promise<string[]>;

/** The system resolver (getaddrinfo, /etc/hosts included), as fetch itself resolves. */
export const systemResolve: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true })).map((a) => a.address);

export interface DownloadLimits {
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  /** From sending the request to the response headers. */
  connectTimeoutMs: number;
  /** Longest pause between two chunks of the body. */
  idleTimeoutMs: number;
}

export interface GuardedFetchOptions {
  fetch: typeof fetch;
  resolve: Resolver;
  policy: SourcePolicy;
  limits: DownloadLimits;
  /** Field named in errors (`rootfs`, `url`). */
  field: string;
  signal?: AbortSignal;
  /** The size the manifest declares, checked against Content-Length and the body. */
  declaredSize?: number;
}

export interface GuardedResponse {
  /** The final URL, after redirects. */
  url: string;
  body: AsyncIterable<Uint8Array>;
  /** Content-Length when the server sent one. */
  total: number | null;
}

const MAX_REDIRECTS = 5;

function upstream(field: string, message: string, cause?: unknown): VolantError {
  return new VolantError("upstream", `${field}: ${message}`, { cause });
}

function forbidden(field: string, message: string): VolantError {
  return new VolantError("forbidden", `${field}: ${message}`, {
    problems: [{ field, message }],
  });
}

function parseUrl(raw: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new VolantError("invalid_input", `${field}: ${JSON.stringify(raw)} is not a valid URL`, {
      cause,
      problems: [{ field, message: "is not a valid URL" }],
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw forbidden(field, `${url.protocol} URLs are not fetched (only http and https)`);
  }
  if (url.username || url.password) throw forbidden(field, "URLs with credentials are refused");
  return url;
}

/** Refuses a host whose addresses (any of them) the policy does not allow. */
async function checkHost(url: URL, o: GuardedFetchOptions): Promise<void> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  if (classifyAddress(host) !== null) addresses = [host];
  else {
    try {
      addresses = await o.resolve(host);
    } catch (cause) {
      throw upstream(o.field, `cannot resolve ${host}`, cause);
    }
    if (addresses.length === 0) throw upstream(o.field, `cannot resolve ${host}`);
  }
  for (const address of addresses) {
    const why = refusal(classifyAddress(address) ?? "reserved", o.policy);
    if (why) throw forbidden(o.field, `${url.host}: ${why}`);
  }
}

/** Fetches `raw` under the policy and limits; the body is a bounded stream. */
export async function guardedFetch(raw: string, o: GuardedFetchOptions): Promise<GuardedResponse> {
  let url = parseUrl(raw, o.field);
  for (let hop = 0;; hop++) {
    await checkHost(url, o);
    const headersDue = new AbortController();
    const timer = setTimeout(() => headersDue.abort(), o.limits.connectTimeoutMs);
    const signal = o.signal ? AbortSignal.any([o.signal, headersDue.signal]) : headersDue.signal;
    let res: Response;
    try {
      res = await o.fetch(url.href, {
        redirect: "manual",
        signal,
        headers: { "accept-encoding": "identity" },
      });
    } catch (cause) {
      if (o.signal?.aborted) throw cause;
      throw upstream(o.field, `cannot download ${url.href}: no answer from the server`, cause);
    } finally {
      clearTimeout(timer);
    }
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location !== null) {
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) {
        throw upstream(o.field, `${raw}: more than ${MAX_REDIRECTS} redirects`);
      }
      let next: string;
      try {
        next = new URL(location, url).href;
      } catch (cause) {
        throw upstream(o.field, `${url.href} redirects to an invalid URL`, cause);
      }
      url = parseUrl(next, o.field);
      continue;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw upstream(o.field, `downloading ${url.href} answered HTTP ${res.status}`);
    }
    const len = res.headers.get("content-length");
    const total = len !== null && /^\d+$/.test(len) ? Number(len) : null;
    const cap = Math.min(o.limits.maxBytes, o.declaredSize ?? Infinity);
    if (total !== null && total > o.limits.maxBytes) {
      await res.body.cancel();
      throw new VolantError(
        "too_large",
        `${o.field}: ${url.href} is ${total} bytes, over the ${o.limits.maxBytes}-byte download cap`,
      );
    }
    if (total !== null && o.declaredSize !== undefined && total !== o.declaredSize) {
      await res.body.cancel();
      throw upstream(
        o.field,
        `${url.href} is ${total} bytes but the manifest declares ${o.declaredSize}`,
      );
    }
    return { url: url.href, total, body: bounded(res.body, cap, url.href, o) };
  }
}

async function* bounded(
  body: ReadableStream<Uint8Array>,
  cap: number,
  href: string,
  o: GuardedFetchOptions,
): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let size = 0;
  let finished = false;
  try {
    while (true) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              upstream(
                o.field,
                `download of ${href} stalled after ${size} bytes (no data for ${
                  o.limits.idleTimeoutMs / 1000
                } s)`,
              ),
            ),
          o.limits.idleTimeoutMs,
        );
      });
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await Promise.race([reader.read(), stalled]);
      } catch (cause) {
        if (cause instanceof VolantError || o.signal?.aborted) throw cause;
        throw upstream(o.field, `download of ${href} was cut off after ${size} bytes`, cause);
      } finally {
        clearTimeout(timer);
      }
      if (chunk.done) {
        finished = true;
        return;
      }
      size += chunk.value.byteLength;
      if (size > cap) {
        if (cap < o.limits.maxBytes) {
          throw upstream(o.field, `${href} sent more than the ${cap} bytes the manifest declares`);
        }
        throw new VolantError(
          "too_large",
          `${o.field}: ${href} sent more than the ${cap}-byte download cap`,
        );
      }
      yield chunk.value;
    }
  } finally {
    // An early exit (cap, stall, a consumer that stopped) closes the connection.
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
