/**
 * The hostile-server cases the outside probe used against downloads, each
 * against a real HTTP server (or a bare TCP listener) on loopback.
 */
import assert from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import { guardedFetch, type GuardedFetchOptions, systemResolve } from "./guarded_fetch.ts";

const MiB = 1024 * 1024;

function options(over: Partial<GuardedFetchOptions> = {}): GuardedFetchOptions {
  return {
    fetch,
    resolve: systemResolve,
    policy: { allowPrivate: true },
    limits: { maxBytes: 4 * MiB, connectTimeoutMs: 1000, idleTimeoutMs: 500 },
    field: "rootfs",
    ...over,
  };
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of body) n += c.byteLength;
  return n;
}

/** A server whose handler is given; returns its base URL and a count of requests. */
function serve(handler: (req: Request) => Response | Promise<Response>) {
  let hits = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    hits++;
    return handler(req);
  });
  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    hits: () => hits,
    close: () => server.shutdown(),
  };
}

/** An endless body with no Content-Length; counts what it sent. */
function endless(sent: { bytes: number }): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024);
  return new ReadableStream({
    pull(c) {
      sent.bytes += chunk.byteLength;
      c.enqueue(chunk);
    },
  });
}

Deno.test("a body without Content-Length stops at the cap (too_large), not at the disk", async () => {
  const sent = { bytes: 0 };
  const s = serve(() => new Response(endless(sent)));
  try {
    const res = await guardedFetch(`${s.base}/big`, options());
    await assert.rejects(drain(res.body), (e) => isVolantError(e, "too_large"));
    assert.ok(sent.bytes < 16 * MiB, `server got to send ${sent.bytes} bytes`);
  } finally {
    await s.close();
  }
});

Deno.test("Content-Length over the cap is refused before the body is read", async () => {
  const s = serve(() =>
    new Response(endless({ bytes: 0 }), { headers: { "content-length": String(1024 ** 4) } })
  );
  try {
    await assert.rejects(
      guardedFetch(`${s.base}/tib`, options()),
      (e) => isVolantError(e, "too_large") && /over the 4194304-byte download cap/.test(e.message),
    );
  } finally {
    await s.close();
  }
});

Deno.test("a declared size is enforced against Content-Length and the bytes sent", async () => {
  const s = serve((req) =>
    new URL(req.url).pathname === "/len"
      ? new Response("0123456789")
      : new Response(endless({ bytes: 0 }))
  );
  try {
    await assert.rejects(
      guardedFetch(`${s.base}/len`, options({ declaredSize: 4 })),
      (e) => isVolantError(e, "upstream") && /declares 4/.test(e.message),
    );
    const res = await guardedFetch(`${s.base}/stream`, options({ declaredSize: 1000 }));
    await assert.rejects(
      drain(res.body),
      (e) => isVolantError(e, "upstream") && /declares/.test(e.message),
    );
  } finally {
    await s.close();
  }
});

Deno.test("gzip Content-Encoding is not decoded: the bytes sent are the bytes kept", async () => {
  const plain = new Uint8Array(8 * MiB);
  const gz = new Uint8Array(
    await new Response(new Blob([plain]).stream().pipeThrough(new CompressionStream("gzip")))
      .arrayBuffer(),
  );
  let asked = "";
  const s = serve((req) => {
    asked = req.headers.get("accept-encoding") ?? "";
    return new Response(gz, { headers: { "content-encoding": "gzip" } });
  });
  try {
    const res = await guardedFetch(`${s.base}/bomb`, options());
    assert.equal(await drain(res.body), gz.byteLength);
    assert.equal(asked, "identity");
  } finally {
    await s.close();
  }
});

Deno.test("a server that withholds its headers, or stalls its body, is cut off in bounded time", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) held.push(conn); // accepts, never answers
  })();
  const s = serve(() => {
    let sent = false;
    return new Response(
      new ReadableStream({
        pull(c) {
          if (sent) return new Promise(() => {}); // one chunk, then silence
          sent = true;
          c.enqueue(new Uint8Array(10));
        },
      }),
    );
  });
  try {
    const t0 = performance.now();
    await assert.rejects(
      guardedFetch(`http://127.0.0.1:${listener.addr.port}/`, options()),
      (e) => isVolantError(e, "upstream") && /no answer from the server/.test(e.message),
    );
    assert.ok(performance.now() - t0 < 5000);
    const res = await guardedFetch(`${s.base}/stall`, options());
    await assert.rejects(
      drain(res.body),
      (e) => isVolantError(e, "upstream") && /stalled after 10 bytes/.test(e.message),
    );
  } finally {
    listener.close();
    for (const c of held) c.close();
    await s.close();
  }
});

Deno.test("a closed port and a silent one read the same (no port scanning through errors)", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = probe.addr.port;
  probe.close();
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const conn of silent) held.push(conn);
  })();
  const message = async (port: number) => {
    try {
      await guardedFetch(`http://127.0.0.1:${port}/x`, options());
    } catch (e) {
      return (e as Error).message.replace(String(port), "PORT");
    }
    throw new Error("expected a failure");
  };
  try {
    assert.equal(await message(closedPort), await message(silent.addr.port));
  } finally {
    silent.close();
    for (const c of held) c.close();
  }
});

Deno.test("a body cut off mid-transfer is an upstream error naming the field", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const conn of listener) {
      await conn.write(
        new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\npartial"),
      );
      conn.close();
    }
  })();
  try {
    const res = await guardedFetch(`http://127.0.0.1:${listener.addr.port}/`, options());
    await assert.rejects(
      drain(res.body),
      (e) => isVolantError(e, "upstream") && /^rootfs: download of .* was cut off/.test(e.message),
    );
  } finally {
    listener.close();
  }
});

Deno.test("the policy is checked before the request and at every redirect hop", async () => {
  const s = serve((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/to-metadata") {
      return Response.redirect("http://169.254.169.254/latest/meta-data/", 302);
    }
    if (path === "/to-numeric") return Response.redirect("http://2852039166/", 307);
    return new Response("ok");
  });
  try {
    for (const path of ["/to-metadata", "/to-numeric"]) {
      await assert.rejects(
        guardedFetch(`${s.base}${path}`, options()),
        (e) => isVolantError(e, "forbidden") && /link-local/.test(e.message),
      );
    }
    const before = s.hits();
    await assert.rejects(
      guardedFetch(`${s.base}/ok`, options({ policy: { allowPrivate: false } })),
      (e) => isVolantError(e, "forbidden") && /loopback addresses are refused/.test(e.message),
    );
    assert.equal(s.hits(), before, "a refused destination gets no request");
    await assert.rejects(
      guardedFetch("http://169.254.169.254/latest/", options()),
      (e) => isVolantError(e, "forbidden"),
    );
    await assert.rejects(
      guardedFetch("http://user:pw@127.0.0.1/", options()),
      (e) => isVolantError(e, "forbidden") && /credentials/.test(e.message),
    );
    await assert.rejects(
      guardedFetch("http://[::1", options()),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "rootfs",
    );
  } finally {
    await s.close();
  }
});
