import assert from "node:assert/strict";
import { readSse, SseParser } from "./sse.ts";

Deno.test("SSE: id/event/data frames, comments ignored, id kept across frames", () => {
  const p = new SseParser();
  const out = p.push(
    ': hello\n\nretry: 3000\n\nid: 1\nevent: vm.created\ndata: {"a":1}\n\ndata: x\n\n',
  );
  assert.deepEqual(out, [
    { id: "1", event: "vm.created", data: '{"a":1}' },
    { id: "1", event: "message", data: "x" },
  ]);
  assert.equal(p.retryMs, 3000);
});

Deno.test("SSE: CRLF and CR line ends, multi-line data, chunks split anywhere", () => {
  const text = "id: 7\r\nevent: t\r\ndata: a\r\ndata: b\r\n\r\nid: 8\rdata:c\r\r";
  for (let cut = 0; cut <= text.length; cut++) {
    const p = new SseParser();
    const out = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut)), ...p.push("\n")];
    assert.deepEqual(out, [
      { id: "7", event: "t", data: "a\nb" },
      { id: "8", event: "message", data: "c" },
    ], `cut at ${cut}`);
  }
});

Deno.test("SSE: an unterminated last frame is dropped", async () => {
  const body = new Blob(["id: 1\ndata: ok\n\nid: 2\ndata: partial"]).stream();
  const got = [];
  for await (const m of readSse(body)) got.push(m);
  assert.deepEqual(got, [{ id: "1", event: "message", data: "ok" }]);
});
