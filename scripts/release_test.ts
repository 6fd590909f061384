import assert from "node:assert/strict";
import { join } from "node:path";
import { archiveName, archiveReadme, bundleLauncher, reproducibleTarGz } from "./release.ts";

async function stage(root: string, mtime: number) {
  const top = join(root, "volant-v9.9.9-linux-x86_64");
  await Deno.mkdir(join(top, "bin"), { recursive: true });
  await Deno.writeTextFile(join(top, "bin", "volant"), "#!/bin/sh\n", { mode: 0o755 });
  await Deno.symlink("volant", join(top, "bin", "volar"));
  await Deno.writeTextFile(join(top, "README"), "r\n", { mode: 0o644 });
  for (const p of ["bin/volant", "README", "bin", ""]) await Deno.utime(join(top, p), mtime, mtime);
}

Deno.test("reproducibleTarGz: same bytes whatever the files' times; owner 0:0, pinned mtime, sorted", async () => {
  const a = await Deno.makeTempDir();
  const b = await Deno.makeTempDir();
  try {
    await stage(a, 1000);
    await stage(b, 2_000_000_000);
    const ta = await reproducibleTarGz(a, "volant-v9.9.9-linux-x86_64", 0);
    const tb = await reproducibleTarGz(b, "volant-v9.9.9-linux-x86_64", 0);
    assert.deepEqual(ta, tb);
    // gzip header: no mtime (bytes 4-7 zero), no file name (FNAME flag 0x08 clear).
    assert.deepEqual([...ta.subarray(4, 8)], [0, 0, 0, 0]);
    assert.equal(ta[3] & 0x08, 0);
    await Deno.writeFile(join(a, "x.tar.gz"), ta);
    const out = await new Deno.Command("tar", {
      args: ["-tvzf", join(a, "x.tar.gz")],
      env: { TZ: "UTC" },
      stdout: "piped",
    }).output();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    const names = lines.map((l) => l.replace(/ -> .*$/, "").split(/\s+/).at(-1));
    assert.deepEqual(names, [
      "volant-v9.9.9-linux-x86_64/",
      "volant-v9.9.9-linux-x86_64/README",
      "volant-v9.9.9-linux-x86_64/bin/",
      "volant-v9.9.9-linux-x86_64/bin/volant",
      "volant-v9.9.9-linux-x86_64/bin/volar",
    ]);
    for (const l of lines) {
      assert.match(l, / 0\/0 /);
      assert.match(l, / 1970-01-01 00:00 /);
    }
    assert.match(lines.join("\n"), /bin\/volar -> volant/);
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("release names, README shape line, and launcher", () => {
  assert.equal(archiveName("v1.2.3"), "volant-v1.2.3-linux-x86_64.tar.gz");
  assert.match(archiveReadme("v1.2.3", "bundle"), /^Shape: bundle\./m);
  assert.match(archiveReadme("v1.2.3", "compiled"), /^Shape: compiled\./m);
  const l = bundleLauncher();
  assert.match(l, /^#!\/usr\/bin\/env bash\n/);
  assert.match(l, /exec -a "\$\{0##\*\/\}" "\$deno" run -A --no-config/);
});
