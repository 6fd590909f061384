/**
 * `volar vms create --user-data FILE` against the real app on a unix socket:
 * the file reaches volantd as the VM's cloud_init, and a daemon that cannot
 * write seeds refuses the create in one line naming cloud_init; a missing file
 * is one line naming the flag.
 */
import assert from "node:assert/strict";
import { serveApi, writePlugin } from "../client/testing.ts";
import { run } from "./main.ts";
import { captureIo } from "./testing.ts";

Deno.test("volar vms create --user-data: sent as cloud_init; refused naming the field on a host without seeds", async () => {
  const api = await serveApi();
  const volar = async (...args: string[]) => {
    const cap = captureIo({ env: { VOLANT_SOCKET: api.socket }, cwd: api.fixture.dir });
    const code = await run(args, cap.io);
    return { code, out: cap.stdout(), err: cap.stderr() };
  };
  try {
    assert.equal(
      (await volar("plugins", "install", await writePlugin(api.fixture.dir, "web"))).code,
      0,
    );
    await Deno.writeTextFile(`${api.fixture.dir}/user-data.yaml`, "#cloud-config\nhostname: x\n");
    const refused = await volar(
      ...["vms", "create", "c1", "--plugin", "web", "--no-start", "--user-data", "user-data.yaml"],
    );
    assert.equal(refused.code, 8, refused.err);
    assert.equal(refused.err.trim().split("\n").length, 1);
    assert.match(refused.err, /cloud_init/);
    assert.match(refused.err, /seeds are not set up/);
    const missing = await volar(
      ...["vms", "create", "c1", "--plugin", "web", "--user-data", "nope.yaml"],
    );
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--user-data: .*nope\.yaml: no such file/);
  } finally {
    await api.close();
  }
});
