/**
 * `[mappings]` over an oci_rootfs image, through fledge.toml: files and
 * directories land in the ext4 image owned by root with their modes; a
 * mapping through a symlink of the image is refused in one line. Uses the
 * umoci-built feature image as an OCI layout. Needs root, umoci. About 5 s.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { VolantError } from "../../errors.ts";
import { makeFeatureImage, sh } from "./_testing.ts";
import { buildOciFromConfig } from "./fledge_config.ts";

Deno.test("oci mappings: host files over the image, owned by root; symlinked parents refused", async () => {
  if (Deno.uid() !== 0) throw new Error("this test needs root");
  const dir = Deno.makeTempDirSync({ prefix: "oci-map-" });
  try {
    const image = await makeFeatureImage(join(dir, "img"));
    assert.equal(image, join(dir, "img", "layout:v1"));
    Deno.mkdirSync(join(dir, "proj", "site"), { recursive: true });
    Deno.writeTextFileSync(join(dir, "proj", "app.conf"), "listen 80;\n");
    Deno.writeTextFileSync(join(dir, "proj", "site", "index.html"), "<h1>mapped</h1>\n");
    Deno.symlinkSync("index.html", join(dir, "proj", "site", "home.html"));
    const toml = (extra: string) =>
      `version = "1"\nstrategy = "oci_rootfs"\n[source]\nimage = "oci:../img/layout:v1"\n` +
      `[mappings]\n${extra}`;
    Deno.writeTextFileSync(
      join(dir, "proj", "fledge.toml"),
      toml(`"app.conf" = { to = "/etc/app.conf", mode = "0600" }\n"site" = "/srv/site"\n`),
    );
    const r = await buildOciFromConfig(join(dir, "proj", "fledge.toml"), join(dir, "out"), {
      cacheDir: join(dir, "cache"),
    });
    const img = r.rootfs.path;
    assert.equal(await sh("debugfs", ["-R", "cat /etc/app.conf", img]), "listen 80;\n");
    const stat = await sh("debugfs", ["-R", "stat /etc/app.conf", img]);
    assert.match(stat, /Mode:\s+0600/);
    assert.match(stat, /User:\s+0\s+Group:\s+0/);
    assert.equal(await sh("debugfs", ["-R", "cat /srv/site/index.html", img]), "<h1>mapped</h1>\n");
    assert.match(
      await sh("debugfs", ["-R", "stat /srv/site/home.html", img]),
      /Fast link dest: "index.html"/,
    );
    // What the image had stays.
    assert.match(await sh("debugfs", ["-R", "cat /srv/big.bin", img]), /^0123456789abcdef/);

    Deno.writeTextFileSync(
      join(dir, "proj", "fledge.toml"),
      toml(`"app.conf" = "/usr/bin/tool-rel/app.conf"\n`),
    );
    const bad = await buildOciFromConfig(join(dir, "proj", "fledge.toml"), join(dir, "out2"), {
      cacheDir: join(dir, "cache"),
    }).catch((e) => e);
    assert.ok(bad instanceof VolantError, String(bad));
    assert.equal(
      bad.message,
      "mappings: /usr/bin/tool-rel is a symlink in the image, the mapping needs a directory there (mappings never follow symlinks)",
    );
    assert.deepEqual([...Deno.readDirSync(join(dir, "out2"))], []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
