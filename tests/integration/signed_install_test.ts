/**
 * A plugin built and signed by fledge, served over HTTP on loopback inside a
 * network namespace the test creates, installed by a real volantd (started
 * with --require-signatures inside that namespace) through the real volar:
 * refused while the key is untrusted, while it is scoped to another plugin,
 * when the manifest changed by one byte after signing, and when unsigned;
 * installed once trusted, and `volar plugins show` names the signer. Every
 * refusal names the key id and leaves nothing installed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fledge, MAIN, REPO, shimFor } from "../../src/builder/_testing.ts";
import { startDaemonProcess } from "../../src/daemon/testing/harness.ts";
import { createNetns } from "../_helpers/netns.ts";

const EXAMPLE = join(REPO, "examples", "static-http", "fledge.toml");
const dec = new TextDecoder();

/** A static file server for `dir` on 127.0.0.1:`port`, run inside the namespace. */
const SERVER = `
const [dir, port] = Deno.args;
Deno.serve({ hostname: "127.0.0.1", port: Number(port), onListen() { console.log("ready"); } },
  async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("no", { status: 400 });
    try {
      return new Response(await Deno.readFile(dir + path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return new Response("missing", { status: 404 });
      throw e;
    }
  });
`;

async function volar(socket: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, "volar", "--socket", socket, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("signed plugin over HTTP in a netns: untrusted, other scope, one byte changed, unsigned refused; trusted installs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "signed-install-" });
  const ns = await createNetns("sig");
  let server: Deno.ChildProcess | undefined;
  let daemon: Awaited<ReturnType<typeof startDaemonProcess>> | undefined;
  try {
    await ns.check(["ip", "link", "set", "lo", "up"]);
    // Build and sign with fledge; the key pair from fledge keygen.
    const env = { MINISIGN_CONFIG_DIR: join(dir, "keys") };
    const g = await fledge(["keygen", "-W", "-p", join(dir, "ci.pub"), "--json"], { env });
    assert.equal(g.code, 0, g.stderr);
    const keyId: string = JSON.parse(g.stdout).key_id;
    const www = join(dir, "www");
    const b = await fledge([
      "build",
      "-c",
      EXAMPLE,
      "-o",
      www,
      "--shim",
      shimFor(dir),
      "--sign",
      join(dir, "keys", "minisign.key"),
      "--json",
      "-q",
    ]);
    assert.equal(b.code, 0, b.stderr);
    const manifestPath: string = JSON.parse(b.stdout).manifest.path;
    const original = Deno.readFileSync(manifestPath);
    // The same plugin, unsigned, under another path.
    Deno.mkdirSync(join(www, "unsigned"));
    Deno.writeFileSync(join(www, "unsigned", "static-http.manifest.json"), original);
    Deno.copyFileSync(
      join(www, "static-http-0.1.0.cpio.gz"),
      join(www, "unsigned", "static-http-0.1.0.cpio.gz"),
    );
    Deno.writeTextFileSync(join(dir, "server.ts"), SERVER);

    const port = 18000 + Math.floor(Math.random() * 1000);
    server = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        ns.name,
        Deno.execPath(),
        "run",
        "-A",
        join(dir, "server.ts"),
        www,
        String(port),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = server.stdout.getReader();
    const first = await reader.read();
    assert.match(dec.decode(first.value), /ready/);
    reader.releaseLock();

    daemon = await startDaemonProcess({
      wrap: ["ip", "netns", "exec", ns.name],
      extraArgs: ["--require-signatures"],
    });
    const url = `http://127.0.0.1:${port}/static-http.manifest.json`;
    const installed = async () =>
      JSON.parse((await volar(daemon!.socket, ["plugins", "list", "-o", "json"])).stdout);

    // 1. No key trusted: refused, naming the key id.
    let r = await volar(daemon.socket, ["plugins", "install", url]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, new RegExp(`signed by key ${keyId}, which is not trusted`));
    assert.deepEqual(await installed(), []);

    // 2. Trusted, but only for another plugin.
    r = await volar(daemon.socket, ["keys", "add", "ci", join(dir, "ci.pub"), "--plugin", "other"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`key ci \\(${keyId}\\) trusted for other`));
    r = await volar(daemon.socket, ["plugins", "install", url]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, new RegExp(`key ${keyId} \\(ci\\) may sign only other`));
    assert.deepEqual(await installed(), []);
    assert.equal((await volar(daemon.socket, ["keys", "remove", "ci"])).code, 0);
    r = await volar(daemon.socket, [
      "keys",
      "add",
      "ci",
      join(dir, "ci.pub"),
      "--plugin",
      "static-http",
    ]);
    assert.equal(r.code, 0, r.stderr);

    // 3. The manifest changed by one byte after signing.
    const tampered = original.slice();
    const at = dec.decode(original).indexOf('"memory_mb": 128') + '"memory_mb": 12'.length;
    tampered[at] = "9".charCodeAt(0);
    Deno.writeFileSync(manifestPath, tampered);
    r = await volar(daemon.socket, ["plugins", "install", url]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, new RegExp(`signature by key ${keyId} does not match the file`));
    assert.deepEqual(await installed(), []);
    Deno.writeFileSync(manifestPath, original);

    // 4. Unsigned, on a daemon that requires signatures.
    r = await volar(daemon.socket, [
      "plugins",
      "install",
      `http://127.0.0.1:${port}/unsigned/static-http.manifest.json`,
    ]);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /is unsigned .*requires signatures/);
    assert.deepEqual(await installed(), []);

    // 5. Trusted and intact: installed; show names the signer and the time.
    r = await volar(daemon.socket, ["plugins", "install", url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`signed by ci \\(key ${keyId}\\)`));
    r = await volar(daemon.socket, ["plugins", "show", "static-http"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`Signed by:\\s+ci \\(key ${keyId}, ED\\), signed \\d{4}-\\d\\d-\\d\\dT`),
    );
    const shown = JSON.parse(
      (await volar(daemon.socket, ["plugins", "show", "static-http", "-o", "json"])).stdout,
    );
    assert.equal(shown.signature.key_id, keyId);
    assert.match(shown.signature.trusted_comment, /\tplugin:static-http\tversion:0\.1\.0$/);
    assert.equal(shown.signature.source, `${url}.minisig`);
    assert.equal(shown.artifacts[0].verified, true);
    r = await volar(daemon.socket, ["keys", "list"]);
    assert.match(r.stdout, new RegExp(`ci\\s+${keyId}\\s+static-http`));
    assert.ok(Deno.statSync(join(daemon.stateDir, "trusted_keys", "ci.json")).isFile);
  } finally {
    if (daemon) {
      await daemon.stop();
      await daemon.cleanup();
    }
    if (server) {
      server.kill("SIGTERM");
      await server.status;
      await server.stdout.cancel().catch(() => undefined);
    }
    await ns.delete();
    await Deno.remove(dir, { recursive: true });
  }
});
