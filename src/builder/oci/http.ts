/**
 * HTTP for registries: one `Deno.HttpClient` trusting the system store
 * (`/etc/ssl/certs/ca-certificates.crt` when present, else Deno's bundled roots)
 * plus any `--registry-ca` file; every request bounded by a timeout for its
 * headers and by an idle timeout between body chunks, so a registry that is
 * down or stalls fails with one line instead of hanging.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";

/** System CA bundles, Debian first. */
const SYSTEM_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

/** Options for {@linkcode registryHttpClient}. */
export interface HttpClientOptions {
  /** Extra PEM CA files to trust (besides the system store). */
  caFiles?: string[];
}

/** A client trusting the system store plus `caFiles`. */
export function registryHttpClient(options: HttpClientOptions = {}): Deno.HttpClient {
  const caCerts: string[] = [];
  for (const f of SYSTEM_BUNDLES) {
    try {
      caCerts.push(Deno.readTextFileSync(f));
      break;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  for (const f of options.caFiles ?? []) {
    try {
      caCerts.push(Deno.readTextFileSync(f));
    } catch (error) {
      throw new VolantError("invalid_input", `--registry-ca: cannot read ${f}: ${error}`, {
        problems: [{ field: "registry_ca", message: `cannot read ${f}` }],
        cause: error,
      });
    }
  }
  return Deno.createHttpClient(caCerts.length > 0 ? { caCerts } : {});
}

/** Default timeout (ms) for headers and between body chunks: FLEDGE_REGISTRY_TIMEOUT_MS or 30 s. */
export function defaultRegistryTimeout(env: Deno.Env = Deno.env): number {
  const raw = env.get("FLEDGE_REGISTRY_TIMEOUT_MS");
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : 30_000;
}

/** Why a fetch failed, in words (timeouts, refused connections, TLS). */
export function fetchFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return `no answer within ${timeoutMs} ms`;
  }
  if (error instanceof DOMException && error.name === "AbortError") return "aborted";
  const msg = causeText(error);
  if (/Connection refused/i.test(msg)) return "connection refused (is the registry running?)";
  if (/InvalidContentType/i.test(msg)) {
    return "TLS handshake failed: the registry speaks plain HTTP (pass --insecure-registry HOST:PORT)";
  }
  if (/certificate|tls|ssl|handshake/i.test(msg)) return `TLS error: ${lastPart(msg)}`;
  if (/dns error|failed to lookup|Name or service not known/i.test(msg)) {
    return `cannot resolve the host (${lastPart(msg)})`;
  }
  return lastPart(msg);
}

/** The message of an error and its causes (Deno's fetch hides the reason in `cause`). */
function causeText(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e !== undefined && parts.length < 5; e = (e as Error).cause) {
    parts.push(e instanceof Error ? e.message : String(e));
    if (!(e instanceof Error)) break;
  }
  return parts.join(": ");
}

/** The most specific part of a hyper-style "a: b (Connect): c" message. */
function lastPart(msg: string): string {
  return msg.split("\n")[0].split(/: (?=[^:]*$)/).pop()!.trim();
}

/**
 * Calls `onChunk` for each body chunk; errors `upstream` when no byte arrives
 * for `idleMs`, and stops on `signal`.
 */
export async function readBody(
  body: ReadableStream<Uint8Array>,
  idleMs: number,
  what: string,
  onChunk: (chunk: Uint8Array) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const reader = body.getReader();
  try {
    while (true) {
      signal?.throwIfAborted();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new VolantError("upstream", `${what}: registry stalled (no data for ${idleMs} ms)`),
            ),
          idleMs,
        );
      });
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await Promise.race([reader.read(), idle]);
      } finally {
        clearTimeout(timer);
      }
      if (r.done) return;
      await onChunk(r.value);
    }
  } catch (error) {
    await reader.cancel().catch((e) => {
      if (!(e instanceof Error)) throw e;
    });
    if (error instanceof VolantError) throw error;
    throw new VolantError("upstream", `${what}: download failed: ${fetchFailure(error, idleMs)}`, {
      cause: error,
    });
  } finally {
    reader.releaseLock();
  }
}
