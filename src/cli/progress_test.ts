import assert from "node:assert/strict";
import { barLine, DownloadProgress, progressFromData } from "./progress.ts";
import { captureIo } from "./testing.ts";

Deno.test("progress bar line", () => {
  assert.equal(
    barLine({ artifact: "initramfs", bytes: 512, total: 1024 }, 10),
    "initramfs  [#####-----]  50%  512 B / 1.0 KiB",
  );
  assert.equal(barLine({ artifact: "rootfs", bytes: 2048, total: null }), "rootfs  2.0 KiB");
  assert.deepEqual(progressFromData({ artifact: "a", bytes: 1, total: null }), {
    artifact: "a",
    bytes: 1,
    total: null,
  });
  assert.equal(progressFromData({ nope: 1 }), null);
});

Deno.test("not a terminal: exactly one line per artifact", () => {
  const c = captureIo();
  const p = new DownloadProgress(c.io, false);
  p.update({ artifact: "initramfs", bytes: 10, total: 100 });
  p.update({ artifact: "initramfs", bytes: 100, total: 100 });
  p.update({ artifact: "initramfs", bytes: 100, total: 100 });
  p.update({ artifact: "data", bytes: 5, total: null });
  p.finish();
  assert.equal(c.stderr(), "downloaded initramfs (100 B)\ndownloaded data (5 B)\n");
});

Deno.test("terminal: the bar is redrawn in place and each artifact ends its line", () => {
  const c = captureIo({ stderrIsTerminal: true });
  const p = new DownloadProgress(c.io);
  p.update({ artifact: "a", bytes: 1, total: 2 });
  p.update({ artifact: "a", bytes: 2, total: 2 });
  p.update({ artifact: "b", bytes: 1, total: 4 });
  p.finish();
  const err = c.stderr();
  assert.equal(err.split("\n").length - 1, 2); // one finished line per artifact
  assert.equal(err.split("\r\x1b[2K").length - 1, 3); // three redraws
  assert.ok(err.endsWith("\n"));
});
