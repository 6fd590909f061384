import assert from "node:assert/strict";
import { fileLogReader } from "./log_reader.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("tail returns the last N lines and the end offset; missing file is empty", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/serial.log`;
    const reader = fileLogReader();
    assert.deepEqual(await reader.tail(path, 5), { data: new Uint8Array(), end: 0 });
    await Deno.writeTextFile(path, "one\ntwo\nthree\nfour\n");
    assert.equal(text((await reader.tail(path, 2)).data), "three\nfour\n");
    assert.equal(text((await reader.tail(path, 10)).data), "one\ntwo\nthree\nfour\n");
    assert.equal(text((await reader.tail(path, 0)).data), "one\ntwo\nthree\nfour\n");
    await Deno.writeTextFile(path, "partial", { append: true });
    const t = await reader.tail(path, 1);
    assert.equal(text(t.data), "partial");
    assert.equal(t.end, 26);
    // Across block boundaries.
    const big = Array.from({ length: 20_000 }, (_, i) => `line ${i}`).join("\n") + "\n";
    await Deno.writeTextFile(path, big);
    assert.equal(text((await reader.tail(path, 3)).data), "line 19997\nline 19998\nline 19999\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("follow streams appended bytes, survives truncation, ends on abort", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/serial.log`;
    await Deno.writeTextFile(path, "old\n");
    const reader = fileLogReader({ pollMs: 20 });
    const abort = new AbortController();
    const stream = reader.follow(path, 4, abort.signal).getReader();
    await Deno.writeTextFile(path, "new 1\n", { append: true });
    assert.equal(text((await stream.read()).value!), "new 1\n");
    await Deno.writeTextFile(path, "cut\n"); // truncated by the size cap, shorter than before
    assert.equal(text((await stream.read()).value!), "cut\n");
    abort.abort();
    assert.equal((await stream.read()).done, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
