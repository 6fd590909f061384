import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { type CpioInput, encodeCpio } from "../builder/cpio.ts";
import { bootContractOf } from "./contract.ts";

const enc = new TextEncoder();
const file = (path: string, mode = 0o755): CpioInput => ({
  type: "file",
  path,
  mode,
  data: enc.encode("#!/bin/sh\n"),
});
const dir = (path: string): CpioInput => ({ type: "dir", path, mode: 0o755 });

const image = (...entries: CpioInput[]) => encodeCpio([dir("/bin"), ...entries]);

Deno.test("Volant's fledge, default mode (own /init + /bin/kestrel): volant, gzip or not", () => {
  const raw = image(file("/init"), file("/bin/kestrel"));
  for (const bytes of [raw, new Uint8Array(gzipSync(raw))]) {
    const f = bootContractOf(bytes);
    assert.equal(f.contract, "volant");
    assert.match(f.reason, /own \/init and \/bin\/kestrel/);
  }
});

Deno.test("Volant's fledge, custom init (/init + /.volant_init): volant", () => {
  assert.equal(
    bootContractOf(image(file("/init"), file("/.volant_init", 0o644))).contract,
    "volant",
  );
});

Deno.test("ours: fledge's skeleton has /volant/agent; a bare busybox /init has no agent", () => {
  const fledge = image(file("/init"), file("/bin/kestrel"), dir("/volant"), dir("/volant/agent"));
  assert.equal(bootContractOf(fledge).contract, "volant-ts");
  assert.equal(bootContractOf(image(file("/init"))).contract, "volant-ts");
  // /init that cannot run is not a guest bringing its own init.
  assert.equal(
    bootContractOf(image(file("/init", 0o644), file("/bin/kestrel"))).contract,
    "volant-ts",
  );
});

Deno.test("other compressions are not inspected (ours)", () => {
  const zstd = new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
  const f = bootContractOf(zstd);
  assert.equal(f.contract, "volant-ts");
  assert.match(f.reason, /not inspected/);
});
