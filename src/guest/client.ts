/**
 * HTTP client to kestrel, the in-guest agent, on `http://<ip>:8080`
 * (docs/development.md). Short timeouts: the supervisor polls it while a
 * guest boots, and a guest that does not answer must not hold anything up.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { GuestAgent, GuestHealth, GuestRequest, GuestResponse } from "../service/ports.ts";

export const AGENT_PORT = 8080;

export interface GuestClientOptions {
  /** Agent port (default 8080; tests point it at a local server). */
  port?: number;
  /** Default per-request timeout (default 2000 ms). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

function signalFor(timeoutMs: number, signal?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([t, signal]) : t;
}

function describe(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return "timed out";
  return error instanceof Error ? error.message : String(error);
}

export class GuestClient implements GuestAgent {
  readonly #port: number;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(opts: GuestClientOptions = {}) {
    this.#port = opts.port ?? AGENT_PORT;
    this.#timeoutMs = opts.timeoutMs ?? 2000;
    this.#fetch = opts.fetch ?? globalThis.fetch;
  }

  url(ip: string, path: string): string {
    return `http://${ip}:${this.#port}${path}`;
  }

  async health(
    ip: string,
    opts: { timeoutMs?: number; signal?: AbortSignal; url?: string } = {},
  ): Promise<GuestHealth> {
    try {
      const res = await this.#fetch(opts.url ?? this.url(ip, "/healthz"), {
        signal: signalFor(opts.timeoutMs ?? this.#timeoutMs, opts.signal),
      });
      const text = (await res.text()).slice(0, 200);
      return res.ok
        ? { ok: true, status: res.status }
        : { ok: false, status: res.status, detail: text || res.statusText };
    } catch (error) {
      if (opts.signal?.aborted) throw error;
      return { ok: false, detail: describe(error) };
    }
  }

  async status(
    ip: string,
    opts: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<unknown> {
    let res: Response;
    try {
      res = await this.#fetch(this.url(ip, "/v1/status"), {
        signal: signalFor(opts.timeoutMs ?? this.#timeoutMs, opts.signal),
        headers: { accept: "application/json" },
      });
    } catch (cause) {
      throw new VolantError(
        "unavailable",
        `guest agent at ${ip} did not answer: ${describe(cause)}`,
        {
          cause,
        },
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new VolantError("upstream", `guest agent at ${ip} answered HTTP ${res.status}`);
    }
    try {
      return await res.json();
    } catch (cause) {
      throw new VolantError("upstream", `guest agent at ${ip} sent a body that is not JSON`, {
        cause,
      });
    }
  }

  async request(ip: string, req: GuestRequest): Promise<GuestResponse> {
    const url = this.url(ip, req.path);
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method: req.method,
        body: req.body,
        headers: {
          accept: "application/json, */*;q=0.5",
          ...(req.contentType ? { "content-type": req.contentType } : {}),
        },
        redirect: "manual",
        signal: signalFor(req.timeoutMs, req.signal),
      });
    } catch (cause) {
      if (req.signal?.aborted) throw cause;
      throw new VolantError(
        "upstream",
        `guest agent at ${ip} did not answer ${req.method} ${req.path}: ${describe(cause)}`,
        { cause },
      );
    }
    const body = await readCapped(res, req.maxBytes ?? 4 * 1024 * 1024, `${req.method} ${url}`);
    return { status: res.status, contentType: res.headers.get("content-type") ?? "", body };
  }
}

/** The whole body, or `upstream` once it passes `max` bytes (a guest cannot flood the host). */
async function readCapped(res: Response, max: number, what: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > max) {
        throw new VolantError("upstream", `${what}: answer larger than ${max} bytes`);
      }
      chunks.push(chunk);
    }
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
