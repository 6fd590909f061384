/**
 * QMP against a real QEMU started with `-M none` (no guest needed).
 */
import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { VolantError } from "../../errors.ts";
import { qmpExecute, qmpStatus } from "./qmp.ts";

async function waitFor(path: string) {
  for (let i = 0; i < 200; i++) {
    try {
      await Deno.stat(path);
      return;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`${path} never appeared`);
}

function killIfRunning(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch (e) {
    if (!(e instanceof TypeError)) throw e; // already exited
  }
}

Deno.test("QMP: query-status, stop/cont, an error reply, then quit ends QEMU", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-qmp-" });
  const sock = `${dir}/qmp.sock`;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("qemu-system-x86_64", {
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
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new Error(`qemu-system-x86_64 missing: apt-get install qemu-system-x86 (${e})`);
  }
  try {
    await waitFor(sock);
    assertEquals((await qmpStatus(sock)).running, true);
    await qmpExecute(sock, "stop");
    assertEquals((await qmpStatus(sock)).status, "paused");
    await qmpExecute(sock, "cont");
    assertEquals((await qmpStatus(sock)).status, "running");
    await rejects(qmpExecute(sock, "no-such-command"), (e) => {
      return e instanceof VolantError && /CommandNotFound/.test(e.message);
    });
    await qmpExecute(sock, "quit", undefined, { eofIsOk: true });
    const status = await child.status;
    assertEquals(status.code, 0);
  } finally {
    killIfRunning(child);
    await child.stderr.cancel();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("QMP: a missing socket is `unavailable`", async () => {
  await rejects(qmpExecute("/nonexistent/qmp.sock", "query-status"), (e) => {
    return e instanceof VolantError && e.code === "unavailable";
  });
});
