import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256Hex } from "./digest.ts";
import { writeOutputs } from "./output.ts";

const enc = new TextEncoder();

Deno.test("outputs: SHA256SUMS keeps other plugins' lines, is sorted, and sha256sum -c accepts it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "fledge-out-" });
  try {
    writeOutputs(dir, [{ file: "web-1.cpio.gz", data: enc.encode("w1") }]);
    writeOutputs(dir, [{ file: "api-2.cpio.gz", data: enc.encode("a2") }]);
    writeOutputs(dir, [{ file: "web-1.cpio.gz", data: enc.encode("w1 rebuilt") }]);
    assert.equal(
      Deno.readTextFileSync(join(dir, "SHA256SUMS")),
      `${sha256Hex(enc.encode("a2"))}  api-2.cpio.gz\n` +
        `${sha256Hex(enc.encode("w1 rebuilt"))}  web-1.cpio.gz\n`,
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "SHA256SUMS",
      "api-2.cpio.gz",
      "web-1.cpio.gz",
    ], "no temporary files left");
    const check = await new Deno.Command("sha256sum", {
      args: ["-c", "--quiet", "SHA256SUMS"],
      cwd: dir,
    })
      .output();
    assert.ok(check.success);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
