/**
 * `fledge build` (the real CLI) for oci_rootfs: relative `oci:` paths resolve
 * against fledge.toml, `--json` summarises, `--sign` writes minisign
 * signatures of the manifest and SHA256SUMS that Debian's minisign verifies,
 * and SHA256SUMS checks with sha256sum. Needs root, umoci, minisign. ~10 s.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeFeatureImage, sh } from "./_testing.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

Deno.test("fledge build oci_rootfs: --json summary, --sign verified by minisign, SHA256SUMS", async () => {
  if (Deno.uid() !== 0) throw new Error("this test needs root");
  const dir = Deno.makeTempDirSync({ prefix: "oci-fledge-" });
  try {
    await makeFeatureImage(join(dir, "img"));
    Deno.mkdirSync(join(dir, "proj"));
    Deno.writeTextFileSync(
      join(dir, "proj", "fledge.toml"),
      `version = "1"\nstrategy = "oci_rootfs"\n[plugin]\nname = "feat"\nversion = "2.0.0"\n` +
        `[source]\nimage = "oci:../img/layout:v1"\n[workload]\nbase_url = "http://127.0.0.1:9000"\n`,
    );
    await sh(Deno.execPath(), [
      "run",
      "-A",
      MAIN,
      "fledge",
      "keygen",
      "-W",
      "-p",
      join(dir, "k.pub"),
      "-s",
      join(dir, "k.key"),
    ]);
    const out = await sh(Deno.execPath(), [
      "run",
      "-A",
      MAIN,
      "fledge",
      "build",
      "-q",
      "--json",
      "-c",
      join(dir, "proj", "fledge.toml"),
      "-o",
      join(dir, "out"),
      "--cache-dir",
      join(dir, "cache"),
      "--sign",
      join(dir, "k.key"),
    ]);
    const j = JSON.parse(out);
    assert.equal(j.ok, true);
    assert.equal(j.rootfs.file, "feat-2.0.0.img");
    assert.equal(j.manifest.file, "feat.manifest.json");
    assert.equal(j.manifest.value, undefined);
    assert.ok(j.signatures.key_id);
    const m = JSON.parse(Deno.readTextFileSync(join(dir, "out", "feat.manifest.json")));
    assert.equal(m.workload.base_url, "http://127.0.0.1:9000");
    await sh("minisign", ["-Vm", join(dir, "out", "feat.manifest.json"), "-p", join(dir, "k.pub")]);
    await sh("minisign", ["-Vm", join(dir, "out", "SHA256SUMS"), "-p", join(dir, "k.pub")]);
    await sh("sha256sum", ["-c", "SHA256SUMS"], { cwd: join(dir, "out") });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
