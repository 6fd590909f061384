/**
 * The example plugin, built by fledge, installs unchanged into a real volantd
 * (started on a unix socket in a temp dir, host networking off): through the API
 * as volar sends a local file (its absolute path), and through `volar plugins install`.
 * The daemon resolves the relative initramfs URL against the manifest's directory
 * and verifies the sha256 fledge wrote.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256Hex } from "../../src/builder/digest.ts";
import { fledge, MAIN, REPO, shimFor } from "../../src/builder/_testing.ts";
import { startDaemonProcess } from "../../src/daemon/testing/harness.ts";

const EXAMPLE = join(REPO, "examples", "static-http", "fledge.toml");

async function buildExample(out: string): Promise<{ manifest: string; artifact: string }> {
  const r = await fledge(["build", "-c", EXAMPLE, "-o", out, "--json", "--shim", shimFor(out)]);
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  return { manifest: s.manifest.path, artifact: s.artifact.path };
}

Deno.test("fledge -> volantd: the example's manifest installs unchanged (API, local path)", async () => {
  const d = await startDaemonProcess();
  try {
    const out = join(d.dir, "dist");
    Deno.mkdirSync(out);
    const { manifest, artifact } = await buildExample(out);
    const written = JSON.parse(Deno.readTextFileSync(manifest));
    const res = await d.fetch("/api/v1/plugins", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ path: manifest }),
    });
    const body = await res.json();
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.equal(body.outcome, "installed");
    assert.equal(body.plugin.name, "static-http");
    assert.deepEqual(body.plugin.manifest.initramfs, written.initramfs);
    assert.deepEqual(body.plugin.manifest.workload, written.workload);
    const [a] = body.plugin.artifacts;
    assert.equal(a.kind, "initramfs");
    assert.equal(a.verified, true);
    assert.equal(`sha256:${a.sha256}`, written.initramfs.checksum);
    assert.equal(a.url, artifact, "the relative URL resolved against the manifest's directory");
    assert.equal(sha256Hex(Deno.readFileSync(a.path)), sha256Hex(Deno.readFileSync(artifact)));
  } finally {
    assert.equal(await d.stop(), 0, d.stderr());
    await d.cleanup();
  }
});

Deno.test("fledge -> volar plugins install dist/<name>.manifest.json", async () => {
  const d = await startDaemonProcess();
  try {
    const out = join(d.dir, "dist");
    Deno.mkdirSync(out);
    await buildExample(out);
    const r = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        MAIN,
        "volar",
        "plugins",
        "install",
        "dist/static-http.manifest.json",
      ],
      cwd: d.dir,
      env: { NO_COLOR: "1", VOLANT_SOCKET: d.socket },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert.equal(
      r.code,
      0,
      `volar plugins install failed (needs volar's plugins commands, issue 3):\n${
        dec.decode(r.stderr)
      }`,
    );
    const show = await (await d.fetch("/api/v1/plugins/static-http")).json();
    assert.equal(show.artifacts[0].verified, true);
  } finally {
    assert.equal(await d.stop(), 0, d.stderr());
    await d.cleanup();
  }
});
