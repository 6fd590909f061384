import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ConsoleQueue } from "./console.ts";

Deno.test("console queue: a slow console drops beyond its bound and says so, never blocks", async () => {
  const written: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const thirdWrite = Promise.withResolvers<void>();
  const q = new ConsoleQueue(async (b) => {
    await gate; // a console that does not accept bytes until released
    written.push(new TextDecoder().decode(b));
    if (written.length === 3) thirdWrite.resolve();
    return b.length;
  }, 10);
  const enc = new TextEncoder();
  const t = performance.now();
  for (let i = 0; i < 1000; i++) q.push(enc.encode("0123"));
  assert(performance.now() - t < 200, "push never waits for the console");
  assertEquals(q.dropped, 4 * 998, "only 8 bytes fit in the 10-byte queue");
  release();
  await thirdWrite.promise; // the two queued chunks, then the note
  assertEquals(written.slice(0, 2), ["0123", "0123"]);
  assert(written[2].includes("3992 bytes of workload output not shown"), written[2]);
});
