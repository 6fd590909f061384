/**
 * The migration capability a snapshot depends on, against a real QEMU
 * (`-M none`, no guest): `x-ignore-shared` is set on and off through QMP.
 * The save and load with it run in snapshot_test.ts (a real guest).
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { qmpExecute } from "./qmp.ts";
import { setIgnoreShared } from "./migration.ts";

async function ignoreShared(sock: string): Promise<boolean | undefined> {
  const caps = (await qmpExecute(sock, "query-migrate-capabilities")) as {
    capability: string;
    state: boolean;
  }[];
  return caps.find((c) => c.capability === "x-ignore-shared")?.state;
}

Deno.test("x-ignore-shared: set on, then off again (QEMU keeps capabilities between migrations)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-mig-" });
  const sock = `${dir}/qmp.sock`;
  const child = new Deno.Command("qemu-system-x86_64", {
    args: [
      "-M",
      "none",
      "-nodefaults",
      "-display",
      "none",
      "-qmp",
      `unix:${sock},server=on,wait=off`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let i = 0; i < 400; i++) {
      if (await Deno.stat(sock).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assertEquals(await ignoreShared(sock), false);
    await setIgnoreShared(sock, true);
    assertEquals(await ignoreShared(sock), true);
    await setIgnoreShared(sock, false);
    assertEquals(await ignoreShared(sock), false);
    await qmpExecute(sock, "quit", undefined, { eofIsOk: true });
    assertEquals((await child.status).success, true);
  } finally {
    killIfRunning(child);
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});

function killIfRunning(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch (e) {
    if (!(e instanceof TypeError)) throw e; // exited already
  }
}
