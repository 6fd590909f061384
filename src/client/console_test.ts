/**
 * Console (WebSocket) and serial logs through the client, against the real
 * app on a real unix socket. The VM is a stub record (a running VM needs
 * QEMU, which the e2e tests boot), but its serial line is a real unix socket
 * served here and its log a real file.
 */
import assert from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import { createClient } from "./client.ts";
import { serveConsoleFixture } from "./testing.ts";

async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, text: string) {
  let got = "";
  const dec = new TextDecoder();
  while (!got.includes(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    got += dec.decode(value);
  }
  return got;
}

const setup = () => serveConsoleFixture("volant-console-");

Deno.test("console: output arrives, input is sent raw, close ends it", async () => {
  const s = await setup();
  const client = createClient({ socket: s.api.socket });
  try {
    const session = await client.openConsole("web");
    const reader = session.output.getReader();
    assert.match(await readUntil(reader, "welcome"), /welcome/);
    session.send(new TextEncoder().encode("hi\n"));
    assert.match(await readUntil(reader, "echo:hi"), /echo:hi\n/);
    session.close();
    const closed = await session.closed;
    assert.equal(typeof closed.code, "number");
    reader.releaseLock();
  } finally {
    client.close();
    await s.close();
  }
});

Deno.test("console: unknown VM is not_found; a stopped VM is a conflict naming its state", async () => {
  const s = await setup();
  const client = createClient({ socket: s.api.socket });
  try {
    await assert.rejects(client.openConsole("nope"), (e) => isVolantError(e, "not_found"));
    await assert.rejects(
      client.openConsole("off"),
      (e) => isVolantError(e, "conflict") && /state stopped/.test(e.message),
    );
  } finally {
    client.close();
    await s.close();
  }
});

Deno.test("logs: tail N lines, then follow appended output until aborted", async () => {
  const s = await setup();
  const client = createClient({ socket: s.api.socket });
  const abort = new AbortController();
  try {
    const tail = await new Response(await client.vmLogs("web", { tail: 2 })).text();
    assert.equal(tail, "line3\nline4\n");
    const stream = await client.vmLogs("web", { tail: 1, follow: true, signal: abort.signal });
    const reader = stream.getReader();
    assert.equal(await readUntil(reader, "line4\n"), "line4\n");
    await Deno.writeTextFile(`${s.dir}/serial.log`, "line5\n", { append: true });
    assert.match(await readUntil(reader, "line5"), /line5/);
    abort.abort();
    await reader.cancel().catch((error) => {
      if (!(error instanceof DOMException)) throw error;
    });
    await assert.rejects(client.vmLogs("nope"), (e) => isVolantError(e, "not_found"));
  } finally {
    abort.abort();
    client.close();
    await s.close();
  }
});
