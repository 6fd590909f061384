/**
 * Events: a JSON page of past events, and the live SSE stream as an async
 * iterator that reconnects with Last-Event-ID after a disconnect (a daemon
 * restart included), so no event is lost or repeated.
 *
 * @module
 */
import { isVolantError, VolantError } from "../errors.ts";
import { checkResponse, type ResponseTypes } from "./check.ts";
import { readSse, SseParser } from "./sse.ts";
import type { Transport } from "./transport.ts";

/**
 * An event as the client accepts it: the shared schema, but any `type`
 * string, so a newer daemon's new event types do not break older clients
 * (ClientEventSchema in zod_schemas.ts).
 */
export type ClientEvent = ResponseTypes["ClientEvent"];

/** Filters shared by the page and the stream. */
export interface EventFilterParams {
  /** Event types or families (`vm.*`). */
  types?: string[];
  /** A resource name (plugin, VM, deployment). */
  resource?: string;
}

export interface EventListQuery extends EventFilterParams {
  /** Only events with a greater id. */
  after?: number;
  limit?: number;
}

export interface StreamOptions extends EventFilterParams {
  /** Resume after this id (default: from now on). */
  after?: number;
  signal?: AbortSignal;
  /** Reconnect after a disconnect (default true). */
  reconnect?: boolean;
  /** Called each time a stream is established (the subscription is live). */
  onConnect?: () => void;
  /** Upper bound of the reconnect backoff, ms (default 5000). */
  maxBackoffMs?: number;
}

function filterQuery(f: EventFilterParams) {
  return {
    type: f.types && f.types.length > 0 ? f.types.join(",") : undefined,
    resource: f.resource,
  };
}

export async function listEvents(t: Transport, q: EventListQuery): Promise<ClientEvent[]> {
  const res = await t.request({
    path: "/api/v1/events",
    query: { ...filterQuery(q), follow: "false", after: q.after, limit: q.limit },
    buffered: true,
  });
  return (await checkResponse("EventPage", await res.json(), "event list")).items;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** True for errors after which a reconnect makes sense (the connection, not the request). */
function retryable(error: unknown): boolean {
  if (isVolantError(error)) return error.code === "unavailable";
  // A broken body stream (daemon gone mid-read) surfaces as a TypeError or an I/O error.
  return error instanceof TypeError || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.UnexpectedEof || error instanceof Deno.errors.Interrupted;
}

export async function* streamEvents(
  t: Transport,
  opts: StreamOptions,
): AsyncGenerator<ClientEvent> {
  const reconnect = opts.reconnect ?? true;
  const maxBackoff = opts.maxBackoffMs ?? 5000;
  let lastId = opts.after;
  let connected = false;
  let failures = 0;
  const parser = new SseParser();
  while (!opts.signal?.aborted) {
    try {
      const res = await t.request({
        path: "/api/v1/events",
        query: { ...filterQuery(opts) },
        headers: {
          accept: "text/event-stream",
          ...(lastId !== undefined ? { "last-event-id": String(lastId) } : {}),
        },
        signal: opts.signal,
      });
      if (!res.body) throw new VolantError("upstream", "volantd sent an empty event stream");
      connected = true;
      failures = 0;
      opts.onConnect?.();
      for await (const m of readSse(res.body, parser)) {
        if (m.data === "") continue;
        const event = await checkResponse("ClientEvent", JSON.parse(m.data), "event");
        lastId = event.id;
        yield event;
      }
    } catch (error) {
      if (opts.signal?.aborted) return;
      // The first connection failing means no daemon: say so instead of waiting forever.
      if (!reconnect || !connected || !retryable(error)) throw error;
      failures++;
    }
    if (opts.signal?.aborted || !reconnect) return;
    const base = parser.retryMs ?? 1000;
    await sleep(Math.min(maxBackoff, base * 2 ** Math.min(failures, 4)), opts.signal);
  }
}
