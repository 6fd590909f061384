/**
 * fledge's signing through the real CLI, checked with Debian's real
 * `minisign` (apt-get install -y minisign): `fledge keygen` (unencrypted and
 * password-protected) makes keys minisign uses, `fledge sign` and
 * `fledge build --sign` write `.minisig` files `minisign -V` accepts with a
 * trusted comment naming plugin, version and time, and the GitHub Action's
 * build.sh signs with a key handed over as a secret's text.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fledge, MAIN, REPO, shimFor } from "../../src/builder/_testing.ts";
import { formatSecretKey, generateKeyPair } from "../../src/crypto/mod.ts";

const EXAMPLE = join(REPO, "examples", "static-http", "fledge.toml");
const dec = new TextDecoder();

async function minisign(args: string[], stdin?: string, env?: Record<string, string>) {
  let child;
  try {
    child = new Deno.Command("minisign", {
      args,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      env,
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error("minisign is required: install it with `apt-get install -y minisign`");
    }
    throw error;
  }
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("fledge keygen -W + fledge sign: minisign -V verifies; minisign signs with fledge's key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fledge-sign-" });
  try {
    const env = { MINISIGN_CONFIG_DIR: join(dir, "ms") };
    const g = await fledge(["keygen", "-W", "--json"], { cwd: dir, env });
    assert.equal(g.code, 0, g.stderr);
    const made = JSON.parse(g.stdout);
    assert.match(made.key_id, /^[0-9A-F]{16}$/);
    assert.equal(made.secret_key, join(dir, "ms", "minisign.key"));
    assert.equal(Deno.statSync(made.secret_key).mode! & 0o777, 0o600);
    assert.equal(Deno.statSync(join(dir, "ms")).mode! & 0o777, 0o700);
    // A second keygen refuses to overwrite.
    const again = await fledge(["keygen", "-W"], { cwd: dir, env });
    assert.equal(again.code, 4);
    assert.match(again.stderr, /already exists \(use --force/);

    const file = join(dir, "caddy.manifest.json");
    Deno.writeTextFileSync(file, JSON.stringify({ name: "caddy", version: "1.2.0" }) + "\n");
    const s = await fledge(["sign", file], { cwd: dir, env });
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout.trim(), `${file}.minisig`);
    const v = await minisign(["-Vm", file, "-p", join(dir, "minisign.pub")]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(
      v.stdout,
      /Trusted comment: timestamp:\d+\tfile:caddy\.manifest\.json\thashed\tplugin:caddy\tversion:1\.2\.0/,
    );
    // minisign uses the same default key location and reads fledge's key file.
    const other = join(dir, "other.txt");
    Deno.writeTextFileSync(other, "x\n");
    const ms = await minisign(["-S", "-m", other], undefined, env);
    assert.equal(ms.code, 0, ms.stderr);
    const mv = await minisign(["-Vm", other, "-p", join(dir, "minisign.pub")]);
    assert.equal(mv.code, 0, mv.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fledge keygen with a password: minisign decrypts the key and signs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fledge-sign-" });
  try {
    Deno.writeTextFileSync(join(dir, "pw"), "hunter2 hunter2\n");
    const g = await fledge([
      "keygen",
      "-p",
      "k.pub",
      "-s",
      "k.key",
      "--password-file",
      "pw",
    ], { cwd: dir });
    assert.equal(g.code, 0, g.stderr);
    assert.match(
      Deno.readTextFileSync(join(dir, "k.key")),
      /^untrusted comment: minisign encrypted secret key\n/,
    );
    const file = join(dir, "f.bin");
    Deno.writeTextFileSync(file, "payload\n");
    const s = await minisign(["-S", "-s", join(dir, "k.key"), "-m", file], "hunter2 hunter2\n");
    assert.equal(s.code, 0, s.stderr + s.stdout);
    const v = await minisign(["-Vm", file, "-p", join(dir, "k.pub")]);
    assert.equal(v.code, 0, v.stderr);
    // fledge sign with the wrong password: refused, no signature written. (A key with cheap
    // scrypt parameters, which minisign reads from the file: one 1 GiB derivation per test.)
    Deno.removeSync(`${file}.minisig`);
    const cheap = await generateKeyPair();
    Deno.writeTextFileSync(
      join(dir, "cheap.key"),
      await formatSecretKey(cheap, "right", { opslimit: 524288n, memlimit: 16777216n }),
    );
    const bad = await fledge(["sign", "-s", "cheap.key", file], {
      cwd: dir,
      env: { FLEDGE_KEY_PASSWORD: "wrong" },
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /wrong password/);
    assert.throws(() => Deno.statSync(`${file}.minisig`), Deno.errors.NotFound);
    // Without a terminal and without a password source: one clear line.
    const none = await fledge(["sign", "-s", "cheap.key", file], { cwd: dir });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /needs a password: give --password-file FILE or FLEDGE_KEY_PASSWORD/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fledge build --sign and the Action's build.sh with a key from a secret", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fledge-sign-" });
  try {
    const g = await minisign(["-G", "-W", "-p", join(dir, "ci.pub"), "-s", join(dir, "ci.key")]);
    assert.equal(g.code, 0, g.stderr);
    const out = join(dir, "dist");
    const b = await fledge([
      "build",
      "-c",
      EXAMPLE,
      "-o",
      out,
      "--shim",
      shimFor(dir),
      "--sign",
      join(dir, "ci.key"),
      "--json",
      "-q",
    ]);
    assert.equal(b.code, 0, b.stderr);
    const summary = JSON.parse(b.stdout);
    assert.equal(summary.signatures.manifest, `${summary.manifest.path}.minisig`);
    assert.equal(summary.signatures.sha256sums, `${summary.sha256sums}.minisig`);
    for (const f of [summary.manifest.path, summary.sha256sums]) {
      const v = await minisign(["-Vm", f, "-p", join(dir, "ci.pub")]);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, /\tplugin:static-http\tversion:0\.1\.0/);
    }

    // build.sh as the Action runs it: the key's text in FLEDGE_SIGNING_KEY.
    const ghOut = join(dir, "gh_output");
    const work = join(dir, "work");
    Deno.mkdirSync(work);
    const sh = await new Deno.Command("bash", {
      args: [join(REPO, "src", "builder", "action", "build.sh")],
      cwd: work,
      env: {
        NO_COLOR: "1",
        FLEDGE: `${Deno.execPath()} run -A --quiet ${MAIN} fledge`,
        FLEDGE_SHIM: shimFor(dir),
        FLEDGE_CONFIG: EXAMPLE,
        FLEDGE_OUTPUT: "dist",
        FLEDGE_SIGNING_KEY: Deno.readTextFileSync(join(dir, "ci.key")).trim(),
        RUNNER_TEMP: dir,
        GITHUB_OUTPUT: ghOut,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(sh.code, 0, dec.decode(sh.stderr));
    const o = Object.fromEntries(
      Deno.readTextFileSync(ghOut).trim().split("\n").map((l) => [
        l.slice(0, l.indexOf("=")),
        l.slice(l.indexOf("=") + 1),
      ]),
    );
    assert.equal(
      o["manifest-signature-path"],
      join(work, "dist", "static-http.manifest.json.minisig"),
    );
    assert.equal(o["sha256sums-signature-path"], join(work, "dist", "SHA256SUMS.minisig"));
    assert.match(o["signing-key-id"], /^[0-9A-F]{16}$/);
    const v = await minisign(["-Vm", o["manifest-path"], "-p", join(dir, "ci.pub")]);
    assert.equal(v.code, 0, v.stderr);
    // The key file written for fledge is gone.
    const left = [...Deno.readDirSync(dir)].filter((e) => e.name.startsWith("fledge-key."));
    assert.deepEqual(left, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
