import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { RingBuffer } from "./ring_buffer.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("ring buffer keeps the newest bytes across wrap-around", () => {
  const r = new RingBuffer(8);
  r.write(enc("abc"));
  r.write(enc("defg"));
  assertEquals(r.text(), "abcdefg");
  r.write(enc("hij"));
  assertEquals(r.text(), "cdefghij");
  assertEquals(r.length, 8);
  assertEquals(r.totalWritten, 10);
  r.write(enc("0123456789AB"));
  assertEquals(r.text(), "456789AB");
});

Deno.test("ring buffer tail returns the last N lines", () => {
  const r = new RingBuffer(1024);
  r.write(enc("one\ntwo\nthree\n"));
  assertEquals(r.text(2), "two\nthree\n");
  assertEquals(r.text(10), "one\ntwo\nthree\n");
  assertEquals(r.text(0), "");
  r.write(enc("partial"));
  assertEquals(r.text(1), "partial");
  assertThrows(() => new RingBuffer(0), RangeError);
});
