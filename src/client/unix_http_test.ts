/**
 * The plain unix-socket HTTP path against a real Deno.serve on a real socket:
 * fixed-length and chunked (streamed) answers, error statuses, request bodies,
 * a missing socket, and the parser on malformed answers. (< 1 s)
 */
import assert from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import { createTransport } from "./transport.ts";
import { dechunk, parseResponse, unixHttp } from "./unix_http.ts";

const enc = new TextEncoder();

async function serveUnix(handler: (req: Request) => Response | Promise<Response>) {
  const dir = await Deno.makeTempDir({ prefix: "volant-unix-http-" });
  const path = `${dir}/s.sock`;
  const server = Deno.serve({ path, onListen() {} }, handler);
  return {
    path,
    async close() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("unixHttp: JSON, streamed (chunked) and empty answers, with the request as sent", async () => {
  const seen: string[] = [];
  const s = await serveUnix(async (req) => {
    const url = new URL(req.url);
    seen.push(`${req.method} ${url.pathname}${url.search} ${await req.text()}`);
    if (url.pathname === "/stream") {
      const body = new ReadableStream({
        start(c) {
          c.enqueue(enc.encode("a".repeat(70_000)));
          c.enqueue(enc.encode("é-end"));
          c.close();
        },
      });
      return new Response(body, { headers: { "content-type": "text/plain" } });
    }
    if (url.pathname === "/none") return new Response(null, { status: 204 });
    return Response.json({ ok: true, q: url.searchParams.get("q") }, {
      status: 201,
      headers: { "x-total-count": "7" },
    });
  });
  try {
    const signal = new AbortController().signal;
    const json = await unixHttp(s.path, {
      method: "POST",
      target: "/x?q=a%20b",
      headers: { "content-type": "application/json" },
      body: '{"n":1}',
    }, signal);
    assert.equal(json.status, 201);
    assert.equal(json.headers.get("x-total-count"), "7");
    assert.deepEqual(await json.json(), { ok: true, q: "a b" });
    const stream = await unixHttp(
      s.path,
      { method: "GET", target: "/stream", headers: {} },
      signal,
    );
    assert.equal(await stream.text(), `${"a".repeat(70_000)}é-end`);
    const none = await unixHttp(s.path, { method: "DELETE", target: "/none", headers: {} }, signal);
    assert.equal(none.status, 204);
    assert.equal(await none.text(), "");
    assert.deepEqual(seen, ['POST /x?q=a%20b {"n":1}', "GET /stream ", "DELETE /none "]);
  } finally {
    await s.close();
  }
});

Deno.test("buffered transport requests: problem+json is a VolantError, a missing socket is unavailable", async () => {
  const s = await serveUnix(() =>
    new Response(
      JSON.stringify({ title: "Not Found", detail: "vm 'x' not found", code: "not_found" }),
      {
        status: 404,
        headers: { "content-type": "application/problem+json" },
      },
    )
  );
  try {
    const t = createTransport({ socket: s.path });
    await assert.rejects(
      t.request({ path: "/api/v1/vms/x", buffered: true }),
      (e) => isVolantError(e, "not_found") && e.message === "vm 'x' not found",
    );
    t.close();
  } finally {
    await s.close();
  }
  const gone = createTransport({ socket: s.path });
  await assert.rejects(
    gone.request({ path: "/api/v1/vms", buffered: true }),
    (e) => isVolantError(e, "unavailable") && /socket does not exist/.test(e.message),
  );
  gone.close();
});

Deno.test("parseResponse refuses malformed answers; dechunk joins chunks", () => {
  const bytes = (s: string) => enc.encode(s) as Uint8Array<ArrayBuffer>;
  assert.throws(() => parseResponse(bytes("HTTP/1.1 200 OK\r\n")), /no end of headers/);
  assert.throws(() => parseResponse(bytes("SPDY 200\r\n\r\n")), /status line/);
  assert.throws(
    () => parseResponse(bytes("HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort")),
    /content-length/,
  );
  assert.equal(
    new TextDecoder().decode(dechunk(bytes("3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n"))),
    "abcde",
  );
  assert.throws(() => dechunk(bytes("zz\r\n")), /chunk size/);
});
