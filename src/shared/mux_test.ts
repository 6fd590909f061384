import {
  deepStrictEqual as assertEquals,
  ok as assert,
  rejects as assertRejects,
  throws,
} from "node:assert/strict";
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  HELLO_MAGIC,
  MAX_PAYLOAD,
  MuxProtocolError,
} from "./mux_codec.ts";
import { CHUNK, MuxSession, type MuxStream } from "./mux.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("codec: frames survive any chunking, byte by byte included", () => {
  const frames: Frame[] = [
    { type: "hello", hello: { nonce: "n1", key: "k" } },
    { type: "open", id: 1 },
    { type: "data", id: 1, data: enc.encode("hello") },
    { type: "window", id: 1, credit: 4096 },
    { type: "close", id: 1 },
    { type: "reset", id: 3 },
  ];
  const bytes = concat(frames.map(encodeFrame));
  const d = new FrameDecoder();
  const got: Frame[] = [];
  for (const b of bytes) got.push(...d.push(new Uint8Array([b])));
  assertEquals(got, frames);
  assertEquals(new FrameDecoder().push(bytes), frames);
});

Deno.test("codec: an oversize frame is refused and the decoder resyncs on the next hello", () => {
  const d = new FrameDecoder();
  d.push(encodeFrame({ type: "hello", hello: { nonce: "a" } }));
  const big = encodeFrame({ type: "open", id: 1 });
  new DataView(big.buffer).setUint32(5, MAX_PAYLOAD + 1);
  throws(() => d.push(big), /> 65536/);
  assert(d.syncing);
  throws(
    () => encodeFrame({ type: "data", id: 1, data: new Uint8Array(MAX_PAYLOAD + 1) }),
    MuxProtocolError,
  );
  // Garbage, then a hello split around the magic: found, later frames decode.
  const hello = encodeFrame({ type: "hello", hello: { nonce: "b" } });
  const tail = concat([enc.encode("junk\xff\x56"), hello, encodeFrame({ type: "close", id: 5 })]);
  const got = [...d.push(tail.subarray(0, 9)), ...d.push(tail.subarray(9))];
  assertEquals(got, [{ type: "hello", hello: { nonce: "b" } }, { type: "close", id: 5 }]);
  throws(() => d.push(new Uint8Array([9, 0, 0, 0, 1, 0, 0, 0, 0])), MuxProtocolError);
  assertEquals(HELLO_MAGIC[0], 0xff);
});

/** Two sessions wired back to back, as daemon and kestrel over one port. */
async function pair(window?: number) {
  const link: { host?: MuxSession; guest?: MuxSession } = {};
  const opened: MuxStream[] = [];
  const waiters: ((s: MuxStream) => void)[] = [];
  const host = link.host = new MuxSession({
    role: "host",
    window,
    write: (b) => Promise.resolve(link.guest!.feed(b)),
  });
  const guest = link.guest = new MuxSession({
    role: "guest",
    window,
    write: (b) => Promise.resolve(host.feed(b)),
    onOpen: (s) => {
      const w = waiters.shift();
      if (w) w(s);
      else opened.push(s);
    },
  });
  const accept = () =>
    opened.length
      ? Promise.resolve(opened.shift()!)
      : new Promise<MuxStream>((r) => waiters.push(r));
  // Each decoder skips everything until the peer's hello.
  await host.hello({ nonce: "h" });
  await guest.hello({ nonce: "h" });
  return { host, guest, accept };
}

async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of s) parts.push(c);
  return concat(parts);
}

Deno.test("mux: request and answer on one stream, both half-closes, then the stream is gone", async () => {
  const { host, guest, accept } = await pair();
  const s = await host.open();
  const g = await accept();
  await writeAll(s.writable, enc.encode("GET /healthz"));
  assertEquals(dec.decode(await readAll(g.readable)), "GET /healthz");
  await writeAll(g.writable, enc.encode("200 ok"));
  assertEquals(dec.decode(await readAll(s.readable)), "200 ok");
  assertEquals(host.size, 0);
  assertEquals(guest.size, 0);
});

Deno.test("mux: a copy whose reader stalls holds only its own credit; a health exchange still passes", async () => {
  const window = 64 * 1024;
  const { host, accept } = await pair(window);
  const big = await host.open();
  const bigGuest = await accept();
  // 100 MiB offered, nobody reads it: the writer stops at the window.
  const writer = big.writable.getWriter();
  let written = 0;
  const copying = (async () => {
    const chunk = new Uint8Array(CHUNK);
    while (written < 100 * 1024 * 1024) {
      await writer.write(chunk);
      written += chunk.length;
    }
  })();
  const health = await host.open();
  const hg = await accept();
  await writeAll(health.writable, enc.encode("GET /healthz"));
  assertEquals(dec.decode(await readAll(hg.readable)), "GET /healthz");
  await writeAll(hg.writable, enc.encode("ok"));
  assertEquals(dec.decode(await readAll(health.readable)), "ok");
  assert(written <= window, `wrote ${written} bytes without credit`);
  // Reading the copy lets it go on; interleaved streams keep their bytes apart.
  const reader = bigGuest.readable.getReader();
  let got = 0;
  while (got < 4 * window) got += (await reader.read()).value!.length;
  assert(written >= 3 * window);
  big.reset();
  await assertRejects(() => copying);
  await reader.cancel().catch(() => {});
});

Deno.test("mux: interleaved streams keep their bytes apart", async () => {
  const { host, accept } = await pair(8 * 1024);
  const streams = await Promise.all([host.open(), host.open(), host.open()]);
  const guests = await Promise.all(streams.map(() => accept()));
  const payloads = streams.map((_, i) => new Uint8Array(100_000).fill(i + 1));
  const results = Promise.all(guests.map((g) => readAll(g.readable)));
  await Promise.all(streams.map((s, i) => writeAll(s.writable, payloads[i])));
  const got = await results;
  for (const [i, g] of got.entries()) assertEquals(g, payloads[i]);
});

Deno.test("mux: a hello resets every open stream on both sides", async () => {
  const { host, guest, accept } = await pair();
  const s = await host.open();
  const g = await accept();
  const hostRead = s.readable.getReader().read();
  const guestRead = g.readable.getReader().read();
  let hellos = 0;
  host.resetAll("host restarted");
  await guest.hello({ nonce: "new" }).then(() => hellos++);
  await assertRejects(() => hostRead);
  await guest.hello({ nonce: "again" });
  assertEquals(hellos, 1);
  assertEquals(host.size, 0);
  guest.resetAll("test");
  await assertRejects(() => guestRead);
});

async function writeAll(w: WritableStream<Uint8Array>, bytes: Uint8Array): Promise<void> {
  const writer = w.getWriter();
  await writer.write(bytes);
  await writer.close();
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
