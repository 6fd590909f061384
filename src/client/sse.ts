/**
 * A server-sent events reader (WHATWG HTML §9.2 parsing rules): `id:`,
 * `event:`, multi-line `data:`, `retry:`, comments ignored; CR, LF and CRLF
 * line ends; an incomplete last frame is dropped.
 *
 * @module
 */

/** One dispatched SSE message. */
export interface SseMessage {
  /** The last `id:` seen (the stream's Last-Event-ID), or undefined. */
  id?: string;
  /** `event:` or "message". */
  event: string;
  data: string;
}

/** Parser state between chunks. */
export class SseParser {
  #buffer = "";
  #data: string[] = [];
  #event = "";
  #hasData = false;
  /** The last event id, kept across messages as the spec says. */
  lastId: string | undefined;
  /** The last `retry:` hint in ms. */
  retryMs: number | undefined;

  /** Feeds decoded text; returns the messages it completed. */
  push(text: string): SseMessage[] {
    this.#buffer += text;
    const out: SseMessage[] = [];
    while (true) {
      const m = /\r\n|\r|\n/.exec(this.#buffer);
      if (!m) break;
      // A lone CR at the end may be the first half of CRLF: wait for more.
      if (m[0] === "\r" && m.index === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(0, m.index);
      this.#buffer = this.#buffer.slice(m.index + m[0].length);
      const message = this.#line(line);
      if (message) out.push(message);
    }
    return out;
  }

  #line(line: string): SseMessage | undefined {
    if (line === "") {
      if (!this.#hasData) {
        this.#event = "";
        return undefined;
      }
      const message = {
        id: this.lastId,
        event: this.#event || "message",
        data: this.#data.join("\n"),
      };
      this.#data = [];
      this.#event = "";
      this.#hasData = false;
      return message;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.#data.push(value);
        this.#hasData = true;
        break;
      case "event":
        this.#event = value;
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
    return undefined;
  }
}

/** Reads SSE messages from a byte stream until it ends. */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
  parser = new SseParser(),
): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  // Cancel only when the consumer stops early; an ended or errored stream needs nothing.
  let settled = false;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) {
        settled = true;
        break;
      }
      for (const m of parser.push(decoder.decode(value, { stream: true }))) yield m;
    }
  } catch (error) {
    settled = true;
    throw error;
  } finally {
    if (!settled) await reader.cancel();
  }
}
