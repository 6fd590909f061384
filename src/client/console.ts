/**
 * The VM serial console over WebSocket (`/ws/v1/vms/{name}/console`), on
 * the unix socket or TCP with the same bearer token as the API. Output is a
 * byte stream; input is sent as binary frames, raw.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { VmRecord } from "../manifest/api.ts";
import type { Transport } from "./transport.ts";

/** An open console. */
export interface ConsoleSession {
  /** Serial output; ends when the console closes. */
  readonly output: ReadableStream<Uint8Array>;
  /** Writes raw bytes to the serial line. */
  send(data: Uint8Array): void;
  /** Closes the WebSocket (1000). */
  close(): void;
  /** Resolves when the WebSocket has closed, with the server's code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
}

/**
 * Opens the console of `name`. A refused upgrade carries no body in the
 * WebSocket API, so the VM is looked up afterwards to say why (not found,
 * not running, ...).
 */
export async function openConsole(
  t: Transport,
  getVm: (name: string) => Promise<VmRecord>,
  name: string,
  opts: { signal?: AbortSignal } = {},
): Promise<ConsoleSession> {
  const { url, options } = t.websocket(`/ws/v1/vms/${encodeURIComponent(name)}/console`);
  const ws = new WebSocket(url, options);
  ws.binaryType = "arraybuffer";
  let outputController!: ReadableStreamDefaultController<Uint8Array>;
  const output = new ReadableStream<Uint8Array>({
    start(c) {
      outputController = c;
    },
    cancel() {
      ws.close(1000);
    },
  });
  let resolveClosed!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => resolveClosed = r);

  const opened = await new Promise<boolean>((resolve) => {
    ws.onopen = () => resolve(true);
    ws.onerror = () => resolve(false);
    ws.onclose = () => resolve(false);
    opts.signal?.addEventListener("abort", () => {
      ws.close();
      resolve(false);
    }, { once: true });
  });
  if (!opened) {
    if (opts.signal?.aborted) throw new DOMException("console open aborted", "AbortError");
    const vm = await getVm(name); // throws not_found / unavailable with the daemon's words
    throw new VolantError(
      "conflict",
      `console of vm ${name} is not available (state ${vm.state}${
        vm.last_error ? `: ${vm.last_error}` : ""
      })`,
    );
  }
  let ended = false;
  const end = (code: number, reason: string) => {
    if (ended) return;
    ended = true;
    try {
      outputController.close();
    } catch (error) {
      // Already closed by a cancel from the reader side.
      if (!(error instanceof TypeError)) throw error;
    }
    resolveClosed({ code, reason });
  };
  ws.onmessage = (ev: MessageEvent) => {
    if (ended) return;
    const data = typeof ev.data === "string"
      ? new TextEncoder().encode(ev.data)
      : new Uint8Array(ev.data as ArrayBuffer);
    outputController.enqueue(data);
  };
  ws.onclose = (ev: CloseEvent) => end(ev.code, ev.reason);
  ws.onerror = () => end(1006, "connection error");
  return {
    output,
    send(data: Uint8Array) {
      if (ws.readyState === WebSocket.OPEN) ws.send(data);
    },
    close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
        ws.close(1000, "detached");
      }
    },
    closed,
  };
}
