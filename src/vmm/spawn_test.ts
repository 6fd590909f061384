import { deepStrictEqual as assertEquals, match, ok, rejects } from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import { cString, libc } from "../ffi/libc.ts";
import { readCmdline, readStat } from "./proc.ts";
import { resolveBinary, spawnDetached } from "./spawn.ts";

/** Fields of /proc/<pid>/status, e.g. SigIgn. */
async function procStatus(pid: number): Promise<Record<string, string>> {
  const text = await Deno.readTextFile(`/proc/${pid}/status`);
  return Object.fromEntries(
    text.split("\n").map((l) => l.split(":\t")).filter((p) => p.length === 2),
  );
}

Deno.test("spawnDetached: own session, argv as given, output to the log, nothing inherited", async () => {
  const dir = await Deno.makeTempDir();
  // An fd opened without O_CLOEXEC (as FFI code may) would leak into a plain exec; not here.
  const leak = libc().open(cString(`${dir}/held`), 0o101, 0o600); // O_WRONLY | O_CREAT
  ok(leak >= 3);
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
      let cmd: string[] | null = null;
      for (let i = 0; i < 100; i++) {
        cmd = await readCmdline(vmm.pid);
        if (cmd?.[0] === "sleep") break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assertEquals(cmd, ["sleep", "30"], "the sleep replaced the shell: same pid, one process");
      // Right after the exec, sleep's dynamic loader briefly holds fd 3 (ld.so.cache, libc):
      // look again until that passes. An inherited fd would stay and still fail.
      const openFds = () =>
        [...Deno.readDirSync(`/proc/${vmm.pid}/fd`)].map((e) => Number(e.name)).sort();
      let fds = openFds();
      for (let i = 0; i < 100 && fds.length > 3; i++) {
        await new Promise((r) => setTimeout(r, 20));
        fds = openFds();
      }
      assertEquals(fds, [0, 1, 2], "only stdin, stdout and stderr are open in the VMM");
      assertEquals(await Deno.readLink(`/proc/${vmm.pid}/fd/0`), "/dev/null");
      assertEquals(await Deno.readLink(`/proc/${vmm.pid}/fd/2`), `${dir}/vmm.log`);
      const st = await procStatus(vmm.pid);
      assertEquals([st.SigIgn, st.SigBlk], ["0000000000000000", "0000000000000000"]);
    } finally {
      // The status watch is unref'd: a timer keeps this test alive until it arrives.
      const keepAlive = setTimeout(() => {}, 10_000);
      Deno.kill(vmm.pid, "SIGKILL");
      const st = await vmm.status;
      clearTimeout(keepAlive);
      assertEquals(st, { code: null, signal: "SIGKILL" });
    }
    assertEquals(await readStat(vmm.pid), null, "reaped: no zombie left");
  } finally {
    libc().close(leak);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spawnDetached: the exit code is reported and the environment passed", async () => {
  const dir = await Deno.makeTempDir();
  Deno.env.set("VOLANT_SPAWN_TEST", "passed");
  try {
    const vmm = await spawnDetached(
      ["/bin/sh", "-c", 'sleep 0.2; echo "$VOLANT_SPAWN_TEST"; exit 7'],
      `${dir}/vmm.log`,
    );
    const keepAlive = setTimeout(() => {}, 10_000);
    try {
      assertEquals(await vmm.status, { code: 7, signal: null });
    } finally {
      clearTimeout(keepAlive);
    }
    assertEquals(await Deno.readTextFile(`${dir}/vmm.log`), "passed\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spawnDetached: several children at once each get their own status", async () => {
  const dir = await Deno.makeTempDir();
  const keepAlive = setInterval(() => {}, 1000);
  try {
    const kids = await Promise.all(
      [3, 1, 2].map((code) =>
        spawnDetached(["/bin/sh", "-c", `sleep 0.${code}; exit ${code}`], `${dir}/${code}.log`)
      ),
    );
    const long = await spawnDetached(["/bin/sleep", "30"], `${dir}/long.log`);
    const statuses = await Promise.all(kids.map((k) => k.status));
    assertEquals(statuses.map((s) => s.code), [3, 1, 2]);
    ok(await readStat(long.pid), "a running child is left alone while others are reaped");
    Deno.kill(long.pid, "SIGTERM");
    assertEquals(await long.status, { code: null, signal: "SIGTERM" });
  } finally {
    clearInterval(keepAlive);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spawnDetached: a binary that cannot run is a clear error naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/not-a-binary`, "garbage");
    await Deno.chmod(`${dir}/not-a-binary`, 0o755);
    await rejects(spawnDetached([`${dir}/not-a-binary`], `${dir}/vmm.log`), (e) => {
      ok(isVolantError(e, "upstream"));
      match((e as Error).message, /cannot start .*not-a-binary: exec: ENOEXEC/);
      return true;
    });
    await rejects(spawnDetached([`${dir}/missing`], `${dir}/vmm.log`), /missing: exec: ENOENT/);
    await rejects(spawnDetached(["/bin/true"], `${dir}/no/such/dir/vmm.log`), /exec: ENOENT/);
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
