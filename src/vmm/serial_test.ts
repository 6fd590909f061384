import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { capSerialLog, connectConsole, followSerialLog, tailSerialLog } from "./serial.ts";

Deno.test("tailSerialLog returns the last lines, keeping a trailing newline", async () => {
  const p = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(p, "a\nb\nc\nd\n");
    assertEquals(await tailSerialLog(p, 2), "c\nd\n");
    assertEquals(await tailSerialLog(p, 10), "a\nb\nc\nd\n");
    await Deno.writeTextFile(p, "x\npartial");
    assertEquals(await tailSerialLog(p, 1), "partial");
    assertEquals(await tailSerialLog(p, 0), "");
  } finally {
    await Deno.remove(p);
  }
});

Deno.test("followSerialLog yields appended bytes until aborted, and restarts after a trim", async () => {
  const p = await Deno.makeTempFile();
  const ac = new AbortController();
  try {
    await Deno.writeTextFile(p, "old\n");
    const following = Promise.withResolvers<void>();
    const it = followSerialLog(p, ac.signal, { pollMs: 20, onFollowing: following.resolve });
    const got: string[] = [];
    let arrived: { text: string; resolve: () => void } | undefined;
    /** Resolves once everything read so far ends with `text`. */
    const until = (text: string) =>
      new Promise<void>((resolve) => {
        arrived = { text, resolve };
        if (got.join("").endsWith(text)) resolve();
      });
    const reader = (async () => {
      for await (const c of it) {
        got.push(new TextDecoder().decode(c));
        if (arrived && got.join("").endsWith(arrived.text)) arrived.resolve();
      }
    })();
    await following.promise;
    await Deno.writeTextFile(p, "new1\n", { append: true });
    await until("new1\n");
    await Deno.writeTextFile(p, "t\n"); // truncation + rewrite, like a trim
    await until("t\n");
    ac.abort();
    await reader;
    assertEquals(got.join(""), "new1\nt\n");
  } finally {
    await Deno.remove(p);
  }
});

Deno.test("capSerialLog keeps the last half at a line boundary, appends continue after it", async () => {
  const p = await Deno.makeTempFile();
  try {
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}`).join("\n") + "\n";
    await Deno.writeTextFile(p, lines);
    // An O_APPEND writer, like QEMU's logappend=on, open across the trim.
    const writer = await Deno.open(p, { append: true });
    assertEquals(await capSerialLog(p, 4096), true);
    const size = (await Deno.stat(p)).size;
    ok(size <= 2048 && size > 1500, `size ${size}`);
    const text = await Deno.readTextFile(p);
    ok(text.startsWith("line "), text.slice(0, 20));
    ok(text.endsWith("line 999\n"));
    await writer.write(new TextEncoder().encode("after\n"));
    writer.close();
    ok((await Deno.readTextFile(p)).endsWith("line 999\nafter\n"));
    assertEquals((await Deno.stat(p)).size, size + 6, "no hole: the append went to the new end");
    assertEquals(await capSerialLog(p, 4096), false);
  } finally {
    await Deno.remove(p);
  }
});

Deno.test("connectConsole is a duplex over a real unix socket", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/serial.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  try {
    const server = (async () => {
      const c = await listener.accept();
      const buf = new Uint8Array(16);
      const n = await c.read(buf);
      await c.write(buf.subarray(0, n!));
      c.close();
    })();
    const conn = await connectConsole(path);
    await conn.write(new TextEncoder().encode("ping"));
    const buf = new Uint8Array(16);
    const n = await conn.read(buf);
    assertEquals(new TextDecoder().decode(buf.subarray(0, n!)), "ping");
    conn.close();
    await server;
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});
