/**
 * HTTP client to kestrel, the in-guest agent, on `http://<ip>:8080`
 * (docs/development.md). Short timeouts: the supervisor polls it while a
 * guest boots, and a guest that does not answer must not hold anything up.
 * A target with a key sends it in `x-volant-agent-key` (kestrel answers 401
 * without); a workload health URL (`opts.url`) never gets it. A target with a
 * channel whose socket exists goes over the agent channel (channel.ts)
 * instead of `ip:8080`: the same HTTP, through the daemon's per-VM socket.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { AGENT_KEY_HEADER } from "../manifest/cmdline.ts";
import type { AgentChannels } from "./channel.ts";
import type {
  AgentSocket,
  GuestAgent,
  GuestForward,
  GuestHealth,
  GuestRequest,
  GuestResponse,
  GuestTarget,
} from "../service/ports.ts";

export const AGENT_PORT = 8080;

export interface GuestClientOptions {
  /** Agent port (default 8080; tests point it at a local server). */
  port?: number;
  /** Default per-request timeout (default 2000 ms). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** The agent channels; without them every call goes over the network. */
  channels?: AgentChannels;
}

function signalFor(timeoutMs: number, signal?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([t, signal]) : t;
}

function targetOf(t: string | GuestTarget): GuestTarget {
  return typeof t === "string" ? { ip: t } : t;
}

/** The key header for `t`, when it has a key. */
function keyHeaders(t: GuestTarget): Record<string, string> {
  return t.key ? { [AGENT_KEY_HEADER]: t.key } : {};
}

function describe(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return "timed out";
  return error instanceof Error ? error.message : String(error);
}

export class GuestClient implements GuestAgent {
  readonly #port: number;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #channels: AgentChannels | undefined;

  constructor(opts: GuestClientOptions = {}) {
    this.#port = opts.port ?? AGENT_PORT;
    this.#timeoutMs = opts.timeoutMs ?? 2000;
    this.#fetch = opts.fetch ?? globalThis.fetch;
    this.#channels = opts.channels;
  }

  url(ip: string, path: string): string {
    // Over the channel the host part is never resolved; a VM without a NIC may have no address.
    return `http://${ip || "kestrel"}:${this.#port}${path}`;
  }

  /**
   * fetch over `t`'s agent channel when it has a live one (or one about to be: see
   * AgentChannels.clientWhenUp), else the plain fetch.
   */
  #fetchFor(t: GuestTarget): typeof fetch {
    const channels = t.channel ? this.#channels : undefined;
    return async (input, init) => {
      const client = channels
        ? await channels.clientWhenUp(t.channel!, t.key, init?.signal ?? undefined)
        : null;
      if (client) return await this.#fetch(input, { ...init, client });
      // No NIC (network.mode "vsock") and no answer on the channel yet: nothing to dial.
      if (!t.ip) {
        throw new TypeError(
          `vm ${t.name ?? "?"} has no address and its agent channel is not up yet`,
        );
      }
      return await this.#fetch(input, init);
    };
  }

  async health(
    target: string | GuestTarget,
    opts: { timeoutMs?: number; signal?: AbortSignal; url?: string } = {},
  ): Promise<GuestHealth> {
    const t = targetOf(target);
    try {
      // A VM with an address is health-checked at that address: "healthy" then also says its
      // network answers (the channel would not). The channel link is still made, because its
      // hello is what hands kestrel the key. Without an address, the channel is the only way.
      if (t.ip && t.channel) this.#channels?.client(t.channel, t.key);
      const doFetch = opts.url || t.ip ? this.#fetch : this.#fetchFor(t);
      const res = await doFetch(opts.url ?? this.url(t.ip, "/healthz"), {
        signal: signalFor(opts.timeoutMs ?? this.#timeoutMs, opts.signal),
        headers: opts.url ? {} : keyHeaders(t),
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
    target: string | GuestTarget,
    opts: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<unknown> {
    const t = targetOf(target);
    const ip = t.ip;
    let res: Response;
    try {
      res = await this.#fetchFor(t)(this.url(ip, "/v1/status"), {
        signal: signalFor(opts.timeoutMs ?? this.#timeoutMs, opts.signal),
        headers: { accept: "application/json", ...keyHeaders(t) },
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

  async request(target: string | GuestTarget, req: GuestRequest): Promise<GuestResponse> {
    const t = targetOf(target);
    const ip = t.ip;
    const url = this.url(ip, req.path);
    let res: Response;
    try {
      res = await this.#fetchFor(t)(url, {
        method: req.method,
        body: req.body,
        headers: {
          accept: "application/json, */*;q=0.5",
          ...(req.contentType ? { "content-type": req.contentType } : {}),
          ...keyHeaders(t),
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

  forward(target: GuestTarget, req: GuestForward): Promise<Response> {
    return forwardTo(this.#fetchFor(target), this.url(target.ip, req.path), target, req);
  }

  async websocket(target: GuestTarget, path: string): Promise<AgentSocket | Response> {
    const { openAgentSocket } = await import("./agent_socket.ts");
    // The link is made (and waited for, if the guest spoke the channel before) when the VMM offers one.
    const channelSocket = target.channel
      ? await this.#channels?.httpSocketWhenUp(target.channel, target.key)
      : undefined;
    return await openAgentSocket(target, path, { port: this.#port, channelSocket });
  }
}

/** A streamed exchange (see GuestAgent.forward): no timeout beyond the caller's signal. */
export async function forwardTo(
  doFetch: typeof fetch,
  url: string,
  t: GuestTarget,
  req: GuestForward,
): Promise<Response> {
  const headers = new Headers(req.headers);
  headers.delete(AGENT_KEY_HEADER); // only the daemon's own key goes to the agent
  if (t.key) headers.set(AGENT_KEY_HEADER, t.key);
  try {
    return await doFetch(url, {
      method: req.method,
      headers,
      body: req.body ?? undefined,
      redirect: "manual",
      signal: req.signal,
    });
  } catch (cause) {
    if (req.signal?.aborted) throw cause;
    throw new VolantError(
      "upstream",
      `agent of vm ${t.name ?? t.ip} unreachable: ${describe(cause)}`,
      { cause },
    );
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
