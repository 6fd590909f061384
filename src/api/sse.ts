/**
 * Server-sent events framing (WHATWG HTML §9.2): `id:`, `event:` and one
 * `data:` line per payload line; comments for heartbeats.
 *
 * @module
 */
import type { VolantEvent } from "../manifest/api.ts";

/** One event frame. JSON has no raw newlines, so `data:` is one line. */
export function sseEvent(e: VolantEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

/** A comment frame (ignored by clients, keeps proxies and idle timers happy). */
export function sseComment(text: string): string {
  return `: ${text.replace(/\n/g, " ")}\n\n`;
}

/** The reconnection delay hint, in ms. */
export function sseRetry(ms: number): string {
  return `retry: ${ms}\n\n`;
}
