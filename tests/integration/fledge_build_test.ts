/**
 * `fledge build` end to end through the real CLI: contents and modes of the
 * archive, the manifest, SHA256SUMS, and bit-for-bit reproducibility across
 * directories, times and umask-dependent host modes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import zlib from "node:zlib";
import { readNewc } from "../../src/builder/_cpio_read.ts";
import { sha256Hex } from "../../src/builder/digest.ts";
import { parseManifest } from "../../src/manifest/mod.ts";
import { fledge, layout, listTree, shimFor } from "../../src/builder/_testing.ts";

const TOML = `
version = "1"
strategy = "initramfs"

[plugin]
name = "demo"
version = "1.2.3"

[workload]
entrypoint = ["/bin/httpd", "-f", "-p", "80", "-h", "/srv/www"]
base_url = "http://127.0.0.1:80"

[health_check]
endpoint = "/"

[mappings]
"www" = "/srv/www"
"tree" = "/usr"
"conf/app.conf" = "/etc/app.conf"
"conf/secret" = { to = "/etc/secret", mode = "0600" }
`;

/** A project; `loose` gives umask-002 style host modes (0664/0775) to show they do not matter. */
function project(dir: string, loose: boolean): void {
  const f = loose ? 0o664 : 0o644;
  const x = loose ? 0o775 : 0o755;
  layout(dir, {
    "fledge.toml": [TOML, f],
    "www/index.html": ["<h1>demo</h1>\n", f],
    "www/cgi/run.sh": ["#!/bin/sh\necho ok\n", x],
    "tree/bin/helper": ["#!/bin/sh\n", f],
    "tree/lib/libx.so.1": ["ELF?", f],
    "tree/share/doc.txt": ["docs\n", f],
    "tree/share/hard1": ["linked\n", f],
    "conf/app.conf": ["a=1\n", f],
    "conf/secret": ["s3cret\n", f],
  });
  Deno.linkSync(join(dir, "tree/share/hard1"), join(dir, "tree/share/hard2"));
  Deno.symlinkSync("index.html", join(dir, "www/link"));
}

function entries(artifact: Uint8Array) {
  const records = readNewc(new Uint8Array(zlib.gunzipSync(artifact)));
  return new Map(records.map((r) => [r.name, r]));
}

Deno.test("fledge build: archive contents, guest-path modes, manifest and SHA256SUMS", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "fledge-build-" });
  try {
    project(dir, false);
    const shim = shimFor(dir);
    const r = await fledge(["build", "--shim", shim, "-o", "out", "--json"], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.ok, true);
    assert.equal(summary.artifact.file, "demo-1.2.3.cpio.gz");
    assert.match(r.stderr, /fledge: busybox: \/bin\/busybox \(\d+ applets\)/);
    assert.deepEqual(listTree(join(dir, "out")), [
      "SHA256SUMS",
      "demo-1.2.3.cpio.gz",
      "demo.manifest.json",
    ]);

    const artifact = Deno.readFileSync(join(dir, "out", "demo-1.2.3.cpio.gz"));
    // gzip header: no timestamp, no name, fixed OS byte.
    assert.deepEqual([...artifact.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
    const e = entries(artifact);
    const mode = (name: string) => "0" + (e.get(name)?.mode ?? 0).toString(8);
    assert.equal(mode("."), "040755");
    assert.equal(mode("tmp"), "041777");
    assert.equal(mode("dev/console"), "020600");
    assert.equal(`${e.get("dev/console")!.rdevMajor},${e.get("dev/console")!.rdevMinor}`, "5,1");
    assert.equal(mode("dev/null"), "020666");
    assert.equal(mode("init"), "0100755");
    assert.deepEqual(e.get("init")!.data, Deno.readFileSync(shim));
    assert.equal(mode("bin/busybox"), "0100755");
    assert.equal(new TextDecoder().decode(e.get("bin/sh")!.data), "busybox");
    // FHS rules on the GUEST path, inside a directory mapping too (the Go fledge's bug).
    assert.equal(mode("usr/bin/helper"), "0100755");
    assert.equal(mode("usr/lib/libx.so.1"), "0100755");
    assert.equal(mode("usr/share/doc.txt"), "0100644");
    assert.equal(mode("srv/www/cgi/run.sh"), "0100755"); // executable on the host
    assert.equal(mode("srv/www/index.html"), "0100644");
    assert.equal(mode("etc/app.conf"), "0100644");
    assert.equal(mode("etc/secret"), "0100600"); // explicit override
    assert.equal(mode("srv/www/link"), "0120777");
    assert.equal(new TextDecoder().decode(e.get("srv/www/link")!.data), "index.html");
    const [h1, h2] = [e.get("usr/share/hard1")!, e.get("usr/share/hard2")!];
    assert.equal(h1.ino, h2.ino);
    assert.equal(h1.nlink, 2);
    assert.equal(h1.data.length + h2.data.length, "linked\n".length); // data once
    for (const rec of e.values()) {
      assert.equal(rec.uid, 0);
      assert.equal(rec.gid, 0);
      assert.equal(rec.mtime, 0);
      assert.ok(!rec.name.startsWith("./") && !rec.name.startsWith("/"), rec.name);
    }

    const manifestText = Deno.readTextFileSync(join(dir, "out", "demo.manifest.json"));
    const manifest = parseManifest(JSON.parse(manifestText));
    assert.equal(manifest.initramfs?.url, "demo-1.2.3.cpio.gz");
    assert.equal(manifest.initramfs?.checksum, `sha256:${sha256Hex(artifact)}`);
    assert.equal(manifest.workload.base_url, "http://127.0.0.1:80");

    const check = await new Deno.Command("sha256sum", {
      args: ["-c", "SHA256SUMS"],
      cwd: join(dir, "out"),
      stdout: "piped",
    }).output();
    assert.equal(
      new TextDecoder().decode(check.stdout),
      "demo-1.2.3.cpio.gz: OK\ndemo.manifest.json: OK\n",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("fledge build: two builds in different dirs, times and umasks give identical bytes", async () => {
  const a = Deno.makeTempDirSync({ prefix: "fledge-repro-a-" });
  const b = Deno.makeTempDirSync({ prefix: "fledge-repro-b-long-name-" });
  try {
    project(a, false);
    const shim = shimFor(a);
    const ra = await fledge(["build", "--shim", shim, "-q"], { cwd: a });
    assert.equal(ra.code, 0, ra.stderr);
    await new Promise((r) => setTimeout(r, 1100)); // different mtimes on the second tree
    project(b, true);
    const rb = await fledge(["build", "-c", join(b, "fledge.toml"), "-o", join(b, "elsewhere")], {
      env: { FLEDGE_SHIM: shim },
    });
    assert.equal(rb.code, 0, rb.stderr);
    for (const f of ["demo-1.2.3.cpio.gz", "demo.manifest.json", "SHA256SUMS"]) {
      const x = Deno.readFileSync(join(a, "dist", f));
      const y = Deno.readFileSync(join(b, "elsewhere", f));
      assert.equal(sha256Hex(x), sha256Hex(y), `${f} differs between the two builds`);
    }
    // SOURCE_DATE_EPOCH changes every mtime, and only that.
    const rc = await fledge(["build", "--shim", shim, "-q", "-o", "sde"], {
      cwd: a,
      env: { SOURCE_DATE_EPOCH: "1700000000" },
    });
    assert.equal(rc.code, 0, rc.stderr);
    const sde = entries(Deno.readFileSync(join(a, "sde", "demo-1.2.3.cpio.gz")));
    const zero = entries(Deno.readFileSync(join(a, "dist", "demo-1.2.3.cpio.gz")));
    assert.deepEqual([...sde.keys()], [...zero.keys()]);
    for (const [name, rec] of sde) {
      assert.equal(rec.mtime, name === "TRAILER!!!" ? 0 : 1700000000);
    }
  } finally {
    Deno.removeSync(a, { recursive: true });
    Deno.removeSync(b, { recursive: true });
  }
});
