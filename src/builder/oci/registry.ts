/**
 * A client for the OCI distribution API (`/v2/`): manifests by tag or digest,
 * blobs into the {@linkcode BlobCache}. Authentication as Docker Hub and GHCR
 * do it: a request answered 401 with `WWW-Authenticate: Bearer realm=...`
 * gets a token from the realm (anonymously, or with Basic credentials) for
 * `repository:<name>:pull` and is retried once; `Basic` challenges get the
 * credentials directly. Redirects (blob CDNs) are followed by hand so the
 * registry's Authorization header never leaves the registry's origin.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { BlobCache } from "./blob_cache.ts";
import { parseChallenge } from "./challenge.ts";
import type { Credentials } from "./credentials.ts";
import { digestOf, mismatch } from "./digest_stream.ts";
import { fetchFailure, readBody } from "./http.ts";
import type { RegistryReference } from "./reference.ts";

/** Manifest media types we ask for, index types first. */
export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** Options for {@linkcode RegistryClient}. */
export interface RegistryClientOptions {
  client: Deno.HttpClient;
  credentials?: Credentials;
  /** Plain HTTP instead of HTTPS (`--insecure-registry`). */
  insecure: boolean;
  /** Header timeout and body idle timeout, ms. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** A fetched manifest: its bytes, digest and media type. */
export interface FetchedManifest {
  bytes: Uint8Array;
  digest: string;
  mediaType: string;
}

const MAX_MANIFEST = 4 << 20;

export class RegistryClient {
  readonly #ref: RegistryReference;
  readonly #o: RegistryClientOptions;
  #authorization: string | undefined;
  readonly #base: string;

  constructor(ref: RegistryReference, options: RegistryClientOptions) {
    this.#ref = ref;
    this.#o = options;
    this.#base = `${options.insecure ? "http" : "https"}://${ref.registry}/v2/${ref.repository}`;
  }

  get #name(): string {
    return `${this.#ref.registry}/${this.#ref.repository}`;
  }

  #signal(): AbortSignal {
    const t = AbortSignal.timeout(this.#o.timeoutMs);
    return this.#o.signal ? AbortSignal.any([t, this.#o.signal]) : t;
  }

  async #raw(url: string, headers: Headers): Promise<Response> {
    try {
      return await fetch(url, {
        headers,
        client: this.#o.client,
        redirect: "manual",
        signal: this.#signal(),
      });
    } catch (error) {
      this.#o.signal?.throwIfAborted();
      throw new VolantError(
        "upstream",
        `registry ${this.#ref.registry}: ${fetchFailure(error, this.#o.timeoutMs)}`,
        { cause: error },
      );
    }
  }

  /** GET with auth (one challenge round) and hand-followed redirects. */
  async #get(path: string, extra: Record<string, string> = {}): Promise<Response> {
    const url = `${this.#base}${path}`;
    const headers = new Headers(extra);
    if (this.#authorization) headers.set("authorization", this.#authorization);
    let res = await this.#raw(url, headers);
    if (res.status === 401) {
      const challenge = parseChallenge(res.headers.get("www-authenticate"));
      await res.body?.cancel();
      this.#authorization = await this.#authorize(challenge);
      headers.set("authorization", this.#authorization);
      res = await this.#raw(url, headers);
    }
    for (let hops = 0; res.status >= 300 && res.status < 400 && hops < 5; hops++) {
      const location = res.headers.get("location");
      await res.body?.cancel();
      if (!location) throw new VolantError("upstream", `${this.#name}: redirect without Location`);
      const next = new URL(location, url);
      const h = new Headers(extra);
      if (next.origin === new URL(url).origin && this.#authorization) {
        h.set("authorization", this.#authorization);
      }
      res = await this.#raw(next.href, h);
    }
    return res;
  }

  async #authorize(challenge: ReturnType<typeof parseChallenge>): Promise<string> {
    const creds = this.#o.credentials;
    const basic = creds ? `Basic ${btoa(`${creds.username}:${creds.password}`)}` : undefined;
    if (challenge?.scheme === "basic") {
      if (!basic) throw this.#denied("needs credentials (--registry-auth USER:PASSWORD)");
      return basic;
    }
    if (challenge?.scheme !== "bearer" || !challenge.params.realm) {
      throw this.#denied("answered 401 without a usable WWW-Authenticate challenge");
    }
    const realm = new URL(challenge.params.realm);
    if (challenge.params.service) realm.searchParams.set("service", challenge.params.service);
    realm.searchParams.set(
      "scope",
      challenge.params.scope ?? `repository:${this.#ref.repository}:pull`,
    );
    const headers = new Headers();
    if (basic) headers.set("authorization", basic);
    let res: Response;
    try {
      res = await fetch(realm, { headers, client: this.#o.client, signal: this.#signal() });
    } catch (error) {
      throw new VolantError(
        "upstream",
        `${this.#name}: token server ${realm.origin}: ${fetchFailure(error, this.#o.timeoutMs)}`,
        { cause: error },
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw this.#denied(`token server ${realm.origin} answered HTTP ${res.status}`);
    }
    const doc = await res.json() as { token?: string; access_token?: string };
    const token = doc.token ?? doc.access_token;
    if (!token) throw this.#denied(`token server ${realm.origin} sent no token`);
    return `Bearer ${token}`;
  }

  #denied(why: string): VolantError {
    const who = this.#o.credentials ? ` (credentials from ${this.#o.credentials.from})` : "";
    return new VolantError("unauthorized", `${this.#name}: access denied: ${why}${who}`);
  }

  /** Turns a failed response into one line naming the image and the registry's own error code. */
  async #failure(res: Response, what: string): Promise<VolantError> {
    let detail = "";
    try {
      const doc = await res.json() as { errors?: { code?: string; message?: string }[] };
      const e = doc.errors?.[0];
      if (e?.code) detail = ` (${e.code}${e.message ? `: ${e.message}` : ""})`;
    } catch (error) {
      if (!(error instanceof SyntaxError || error instanceof TypeError)) throw error;
    }
    if (res.status === 404) {
      return new VolantError("not_found", `${what} not found in ${this.#ref.registry}${detail}`);
    }
    if (res.status === 401 || res.status === 403) {
      const hint = this.#o.credentials ? "" : "; credentials: --registry-auth USER:PASSWORD";
      return this.#denied(`HTTP ${res.status}${detail}${hint}`);
    }
    return new VolantError("upstream", `${what}: registry answered HTTP ${res.status}${detail}`);
  }

  /** Fetches a manifest or index by tag or digest; a digest reference is verified. */
  async manifest(reference: string): Promise<FetchedManifest> {
    const what = `${this.#name}${reference.startsWith("sha256:") ? "@" : ":"}${reference}`;
    const res = await this.#get(`/manifests/${reference}`, { accept: MANIFEST_ACCEPT });
    if (!res.ok) throw await this.#failure(res, `image ${what}`);
    const chunks: Uint8Array[] = [];
    let n = 0;
    await readBody(res.body!, this.#o.timeoutMs, what, (c) => {
      n += c.length;
      if (n > MAX_MANIFEST) throw new VolantError("upstream", `${what}: manifest over 4 MiB`);
      chunks.push(c);
    }, this.#o.signal);
    const bytes = new Uint8Array(n);
    let off = 0;
    for (const c of chunks) {
      bytes.set(c, off);
      off += c.length;
    }
    const digest = digestOf(bytes);
    if (reference.startsWith("sha256:") && digest !== reference) {
      throw mismatch(`manifest ${what}`, reference, digest);
    }
    const header = res.headers.get("docker-content-digest");
    if (header && header.startsWith("sha256:") && header !== digest) {
      throw mismatch(`manifest ${what}`, header, digest);
    }
    const mediaType = (res.headers.get("content-type") ?? "").split(";")[0].trim();
    return { bytes, digest, mediaType };
  }

  /** Puts the blob into `cache` (resuming a partial download); returns bytes fetched now. */
  async blob(
    cache: BlobCache,
    digest: string,
    size: number | undefined,
    onProgress?: (bytes: number, total: number | undefined) => void,
  ): Promise<number> {
    const what = `blob ${digest.slice(0, 19)} of ${this.#name}`;
    return await cache.fetch(
      digest,
      size,
      what,
      async (offset) => {
        const res = await this.#get(
          `/blobs/${digest}`,
          offset > 0 ? { range: `bytes=${offset}-` } : {},
        );
        if (offset > 0 && res.status === 416) {
          await res.body?.cancel();
          return { body: new Blob([]).stream(), resumed: true };
        }
        if (!res.ok) throw await this.#failure(res, what);
        return { body: res.body!, resumed: res.status === 206 };
      },
      (body, onChunk) => readBody(body, this.#o.timeoutMs, what, onChunk, this.#o.signal),
      onProgress,
    );
  }
}
