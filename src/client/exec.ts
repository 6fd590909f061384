/**
 * The client side of `POST /api/v1/vms/{vm}/exec`: sends the request and
 * yields the NDJSON frames (src/manifest/exec.ts) as they arrive, each one
 * checked against its schema.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { ExecFrame, ExecRequest } from "../manifest/exec.ts";
import { NDJSON } from "../manifest/values.ts";
import { checkResponse } from "./check.ts";
import type { Transport } from "./transport.ts";

/** Splits a byte stream into lines (without the newline). */
async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.length > 0) yield line;
    }
  }
  buf += decoder.decode();
  if (buf.trim().length > 0) yield buf;
}

/** Runs `body` in VM `name`; yields output frames, then the exit frame. */
export async function* execInVm(
  transport: Transport,
  name: string,
  body: ExecRequest,
  opts: { signal?: AbortSignal } = {},
): AsyncGenerator<ExecFrame> {
  const res = await transport.request({
    method: "POST",
    path: `/api/v1/vms/${encodeURIComponent(name)}/exec`,
    body,
    headers: { accept: NDJSON },
    signal: opts.signal,
    timeoutMs: 0, // the process may run long; timeout_ms bounds it in the guest
  });
  if (!res.body) throw new VolantError("upstream", "exec: the daemon sent no body");
  let sawExit = false;
  for await (const line of lines(res.body)) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (cause) {
      throw new VolantError("upstream", `exec: a frame that is not JSON: ${line.slice(0, 80)}`, {
        cause,
      });
    }
    const frame: ExecFrame = await checkResponse("ExecFrame", value, "exec frame");
    if (!("stream" in frame)) sawExit = true;
    yield frame;
  }
  if (!sawExit) {
    throw new VolantError("upstream", `exec: the session with vm ${name} ended without an exit`);
  }
}
