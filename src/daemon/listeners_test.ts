import assert from "node:assert/strict";
import { parseListen, prepareSocketPath } from "./listeners.ts";
import { gatewayCidr, guardedPorts } from "./adapters.ts";
import { ensureDir } from "./daemon.ts";
import { isVolantError } from "../errors.ts";

Deno.test("parseListen accepts HOST:PORT and [v6]:PORT", () => {
  assert.deepEqual(parseListen("127.0.0.1:7777"), { hostname: "127.0.0.1", port: 7777 });
  assert.deepEqual(parseListen("[::1]:80"), { hostname: "::1", port: 80 });
  assert.deepEqual(parseListen("localhost:1"), { hostname: "localhost", port: 1 });
  for (const bad of ["7777", "host:", "host:99999", "a b:1"]) {
    assert.throws(() => parseListen(bad), (e) => isVolantError(e, "invalid_input"), bad);
  }
});

Deno.test("prepareSocketPath: creates the dir, refuses a non-socket, keeps a live socket", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await prepareSocketPath(`${dir}/sub/s.sock`);
    assert.ok((await Deno.stat(`${dir}/sub`)).isDirectory);
    await Deno.writeTextFile(`${dir}/file`, "x");
    await assert.rejects(prepareSocketPath(`${dir}/file`), (e) => isVolantError(e, "conflict"));
    assert.equal(await Deno.readTextFile(`${dir}/file`), "x", "a regular file is never removed");
    await assert.rejects(
      prepareSocketPath(`${dir}/file/sub/s.sock`),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "socket",
    );
    const live = Deno.listen({ transport: "unix", path: `${dir}/live.sock` });
    try {
      await assert.rejects(prepareSocketPath(`${dir}/live.sock`), /another volantd/);
    } finally {
      live.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("gatewayCidr and guardedPorts", () => {
  assert.equal(gatewayCidr("192.168.127.0/24"), "192.168.127.1/24");
  assert.equal(gatewayCidr("10.200.3.7/21"), "10.200.0.1/21");
  assert.deepEqual(guardedPorts("127.0.0.1:7777"), [7777]);
  assert.deepEqual(guardedPorts(""), []);
});

Deno.test("ensureDir names the field when a directory cannot be created", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/file`, "x");
    await assert.rejects(
      ensureDir(`${dir}/file/state`, 0o700, "state_dir"),
      (e) => isVolantError(e, "invalid_input") && e.message.startsWith("state_dir: cannot create"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
