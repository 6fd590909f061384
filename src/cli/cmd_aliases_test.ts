import assert from "node:assert/strict";
import { VERSION } from "../version.ts";
import { run } from "./main.ts";
import { captureIo } from "./testing.ts";

Deno.test("Volant's spellings: help lists both, version prints, install takes --manifest", async () => {
  const vms = captureIo();
  assert.equal(await run(["vms", "--help"], vms.io), 0);
  assert.match(vms.stdout(), /^ {2}vms show NAME /m);
  assert.match(vms.stdout(), /^ {2}vms get NAME .*Volant's spelling of `vms show`/m);
  const top = captureIo();
  assert.equal(await run(["--help"], top.io), 0);
  assert.match(top.stdout(), /^ {2}version +print volar's version/m);
  const v = captureIo();
  assert.equal(await run(["version"], v.io), 0);
  assert.equal(v.stdout(), `volar ${VERSION}\n`);
  const help = captureIo();
  assert.equal(await run(["plugins", "install", "--help"], help.io), 0);
  assert.match(help.stdout(), /--manifest FILE\|URL/);
  for (
    const [args, msg] of [
      [["plugins", "install"], /needs a manifest: FILE\|URL or --manifest FILE\|URL/],
      [["plugins", "install", "a.json", "--manifest", "b.json"], /not both/],
    ] as const
  ) {
    const cap = captureIo();
    assert.equal(await run([...args], cap.io), 2);
    assert.match(cap.stderr(), msg);
  }
});
