import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import { readCmdline, readStat } from "./proc.ts";
import { resolveBinary, spawnDetached } from "./spawn.ts";

Deno.test("spawnDetached: own session, argv as given (the shell exec'd away), output to the log", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sh = await resolveBinary("sh");
    ok(sh);
    const argv = [sh, "-c", "echo out; echo err >&2; exec sleep 30", "x"];
    const vmm = await spawnDetached(argv, `${dir}/vmm.log`);
    try {
      // Session id (stat field 6) equals the pid: it leads its own session.
      const raw = await Deno.readTextFile(`/proc/${vmm.pid}/stat`);
      const sid = Number(raw.slice(raw.lastIndexOf(")") + 2).split(" ")[3]);
      assertEquals(sid, vmm.pid);
      assertEquals((await readStat(vmm.pid))?.startTime, vmm.startTime);
      for (let i = 0; i < 100; i++) {
        const log = await Deno.readTextFile(`${dir}/vmm.log`);
        if (log.includes("err")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assertEquals(await Deno.readTextFile(`${dir}/vmm.log`), "out\nerr\n");
      // The inner shell execs sleep right after its last echo: wait for the exec to land.
      let cmd: string[] | null = null;
      for (let i = 0; i < 100; i++) {
        cmd = await readCmdline(vmm.pid);
        if (cmd?.[0] === "sleep") break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assertEquals(cmd, ["sleep", "30"], "the sleep replaced the shells: same pid, one process");
    } finally {
      // The child is unref'd: a timer keeps this test alive until its status arrives.
      const keepAlive = setTimeout(() => {}, 10_000);
      Deno.kill(vmm.pid, "SIGKILL");
      const st = await vmm.child.status;
      clearTimeout(keepAlive);
      assertEquals(st.signal, "SIGKILL");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spawnDetached refuses a relative binary", async () => {
  await rejects(spawnDetached(["qemu"], "/tmp/x.log"), (e) => isVolantError(e, "internal"));
});

Deno.test("resolveBinary finds absolute paths on PATH and null for unknown names", async () => {
  ok((await resolveBinary("sh"))?.startsWith("/"));
  assertEquals(await resolveBinary("no-such-binary-volant"), null);
  assertEquals(await resolveBinary("/nonexistent/bin"), null);
});
