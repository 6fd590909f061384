/**
 * The local gunzip against real encoders: CompressionStream and the gzip
 * binary at several levels (fixed, dynamic and stored blocks), and malformed
 * input.
 */
import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { crc32, gunzip } from "./inflate.ts";

async function compressStream(data: Uint8Array): Promise<Uint8Array> {
  const body = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(body).arrayBuffer());
}

async function gzipBinary(data: Uint8Array, level: string): Promise<Uint8Array> {
  const child = new Deno.Command("gzip", { args: [level, "-c"], stdin: "piped", stdout: "piped" })
    .spawn();
  const w = child.stdin.getWriter();
  await w.write(data);
  await w.close();
  return (await child.output()).stdout;
}

function samples(): Uint8Array[] {
  const enc = new TextEncoder();
  const random = new Uint8Array(5000);
  crypto.getRandomValues(random);
  const json = enc.encode(JSON.stringify({
    name: "web",
    version: "1.0.0",
    workload: { entrypoint: ["httpd", "-f", "-p", "80"], env: { A: "x".repeat(300) } },
    labels: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, `value-${i * 7}`])),
  }));
  return [new Uint8Array(0), enc.encode("a"), json, random, enc.encode("abc".repeat(20000))];
}

Deno.test("gunzip matches CompressionStream output", async () => {
  for (const s of samples()) assertEquals(gunzip(await compressStream(s)), s);
});

Deno.test("gunzip matches gzip -1 / -6 / -9 (fixed, dynamic and stored blocks)", async () => {
  for (const level of ["-1", "-6", "-9"]) {
    for (const s of samples()) assertEquals(gunzip(await gzipBinary(s, level)), s, level);
  }
});

Deno.test("gunzip rejects malformed data and caps the output", async () => {
  const good = await compressStream(new TextEncoder().encode("hello hello hello"));
  assertThrows(() => gunzip(good.subarray(0, good.length - 3)), /trailer|ends early/);
  const bad = good.slice();
  bad[bad.length - 8] ^= 1;
  assertThrows(() => gunzip(bad), /CRC mismatch/);
  assertThrows(() => gunzip(new Uint8Array([1, 2, 3])), /not gzip/);
  const bomb = await compressStream(new Uint8Array(100_000));
  assertThrows(() => gunzip(bomb, 10_000), /exceeds 10000 bytes/);
  assertEquals(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});
