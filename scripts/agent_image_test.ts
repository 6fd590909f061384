/**
 * The agent artifacts are reproducible, cached by their inputs, and readable
 * by the real tools (cpio, e2fsck, debugfs). Builds into temp cache dirs.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildAgentArtifacts } from "./agent_image.ts";
import { writeCpio } from "./cpio_newc.ts";

const STAND_IN = new URL("../tests/e2e/fixtures/stand_in_kestrel.ts", import.meta.url).pathname;

async function tool(cmd: string, args: string[], stdin?: Uint8Array) {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, text };
}

Deno.test("cpio_newc: GNU cpio lists what we wrote, sorted, owned by root, mtime 0", async () => {
  const bytes = writeCpio([
    { path: "dev", type: "dir" },
    { path: "bin", type: "dir" },
    { path: "bin/sh", type: "symlink", target: "busybox" },
    { path: "dev/console", type: "char", major: 5, minor: 1 },
    { path: "init", type: "file", data: new TextEncoder().encode("#!/bin/sh\n"), mode: 0o755 },
  ]);
  const { ok, text } = await tool("cpio", ["-itv", "--quiet"], bytes);
  assert.ok(ok, text);
  const lines = text.trim().split("\n");
  assert.deepEqual(lines.map((l) => l.replace(/^.* 1970 /, "")), [
    "bin",
    "bin/sh -> busybox",
    "dev",
    "dev/console",
    "init",
  ]);
  assert.match(lines[3], /^crw------- +1 root +root +5, +1 Jan +1 +1970 dev\/console$/);
  assert.deepEqual(
    writeCpio([{ path: "a", type: "dir" }]),
    writeCpio([{ path: "a", type: "dir" }]),
  );
  assert.throws(() => writeCpio([{ path: "a", type: "dir" }, { path: "/a", type: "dir" }]), /dup/);
});

Deno.test("agent_image: two builds are byte-identical; a cache hit rebuilds nothing", async () => {
  const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  try {
    // Nine stale builds: after a new build only the 8 most recently used remain.
    for (let i = 0; i < 9; i++) {
      const stale = join(dirs[0], "agent", `00000000000000${i}0`.slice(-16));
      await Deno.mkdir(stale, { recursive: true });
      await Deno.utime(stale, 1000 + i, 1000 + i);
    }
    const built = [];
    for (const cacheDir of dirs) {
      built.push(
        await buildAgentArtifacts({
          kestrel: { kind: "entry", path: STAND_IN },
          cacheDir,
          log: () => {},
        }),
      );
    }
    assert.equal(built[0].key, built[1].key);
    const kept = [];
    for await (const e of Deno.readDir(join(dirs[0], "agent"))) {
      if (/^[0-9a-f]{16}$/.test(e.name)) kept.push(e.name);
    }
    assert.equal(kept.length, 8, `pruned to 8 builds: ${kept}`);
    assert.ok(kept.includes(built[0].key) && !kept.includes("0000000000000000"));
    assert.equal(built[0].cached, false);
    const sums = await Promise.all(
      dirs.map((d) => Deno.readTextFile(join(d, "agent/current/SHA256SUMS"))),
    );
    assert.equal(sums[0], sums[1], "same inputs, same bytes");
    assert.match(
      sums[0],
      /^[0-9a-f]{64} {2}agent\.img\n[0-9a-f]{64} {2}boot\.cpio\.gz\n[0-9a-f]{64} {2}shim\n$/,
    );

    const fsck = await tool("e2fsck", ["-fn", built[0].agentImage]);
    assert.ok(fsck.ok, fsck.text);
    const ls = await tool("debugfs", ["-R", "ls -p /", built[0].agentImage]);
    for (const name of ["kestrel", "kestrel.js", "bin", "lib"]) {
      assert.match(ls.text, new RegExp(`/${name}/`));
    }
    const libs = await tool("debugfs", ["-R", "ls /lib", built[0].agentImage]);
    for (const lib of ["ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libgcc_s.so.1"]) {
      assert.ok(libs.text.includes(lib), `${lib} in /lib: ${libs.text}`);
    }

    const t = performance.now();
    const again = await buildAgentArtifacts({
      kestrel: { kind: "entry", path: STAND_IN },
      cacheDir: dirs[0],
      log: () => {},
    });
    assert.equal(again.cached, true);
    assert.ok(performance.now() - t < 5000, "a cache hit does no build work");
    assert.equal(await Deno.readLink(join(dirs[0], "agent/current")), again.key);
  } finally {
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("agent_image: a missing kestrel entry is one clear error", async () => {
  await assert.rejects(
    buildAgentArtifacts({
      kestrel: { kind: "entry", path: "/nonexistent/main.ts" },
      cacheDir: "/nonexistent-cache",
      log: () => {},
    }),
    /kestrel entry '\/nonexistent\/main\.ts' does not exist/,
  );
});
