/**
 * Interop with Debian's real `minisign` (0.11) in both directions: its keys
 * and signatures (prehashed `ED` and legacy `Ed`, unencrypted and
 * scrypt-encrypted keys) read and verify here, and ours verify with
 * `minisign -V` and sign with `minisign -S`. Needs `apt-get install -y minisign`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  formatPublicKey,
  formatSecretKey,
  formatSignature,
  generateKeyPair,
  keyIdComment,
  keyIdHex,
  parsePublicKey,
  parseSecretKey,
  parseSignature,
  publicKeyFromSecret,
  signMessage,
  trustedFields,
  verifyMessage,
} from "./mod.ts";

const dec = new TextDecoder();

async function minisign(args: string[], stdin?: string) {
  let child;
  try {
    child = new Deno.Command("minisign", {
      args,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
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

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "minisign-it-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function payload(dir: string): { path: string; data: Uint8Array } {
  const data = crypto.getRandomValues(new Uint8Array(5000));
  const path = join(dir, "plugin.manifest.json");
  Deno.writeFileSync(path, data);
  return { path, data };
}

Deno.test("minisign -> ours: an ED (prehashed) signature from an unencrypted key verifies", async () => {
  await withDir(async (dir) => {
    const { path, data } = payload(dir);
    const pub = join(dir, "k.pub"), sec = join(dir, "k.key");
    const g = await minisign(["-G", "-W", "-p", pub, "-s", sec]);
    assert.equal(g.code, 0, g.stderr);
    const s = await minisign(["-S", "-s", sec, "-m", path, "-t", "plugin:caddy\tversion:1.0"]);
    assert.equal(s.code, 0, s.stderr);
    const key = parsePublicKey(Deno.readTextFileSync(pub));
    const sig = parseSignature(Deno.readTextFileSync(`${path}.minisig`));
    assert.equal(sig.algorithm, "ED");
    assert.match(Deno.readTextFileSync(pub), new RegExp(`public key ${keyIdComment(key.keyId)}\n`));
    const v = await verifyMessage(data, sig, key);
    assert.deepEqual(v, {
      ok: true,
      keyId: keyIdHex(key.keyId),
      algorithm: "ED",
      trustedComment: "plugin:caddy\tversion:1.0",
    });
    assert.equal(trustedFields(sig.trustedComment).get("plugin"), "caddy");
    // One byte changed: refused, naming the key.
    data[10] ^= 1;
    const bad = await verifyMessage(data, sig, key);
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.reason, "signature_invalid");
    assert.match(!bad.ok ? bad.message : "", new RegExp(keyIdHex(key.keyId)));
  });
});

Deno.test("minisign -> ours: a legacy Ed signature (minisign -l) verifies", async () => {
  await withDir(async (dir) => {
    const { path, data } = payload(dir);
    const pub = join(dir, "k.pub"), sec = join(dir, "k.key");
    assert.equal((await minisign(["-G", "-W", "-p", pub, "-s", sec])).code, 0);
    const s = await minisign(["-S", "-l", "-s", sec, "-m", path]);
    assert.equal(s.code, 0, s.stderr);
    const sig = parseSignature(Deno.readTextFileSync(`${path}.minisig`));
    assert.equal(sig.algorithm, "Ed");
    assert.match(sig.trustedComment, /^timestamp:\d+\tfile:plugin\.manifest\.json$/);
    const v = await verifyMessage(data, sig, parsePublicKey(Deno.readTextFileSync(pub)));
    assert.equal(v.ok, true);
  });
});

Deno.test("minisign's unencrypted secret key signs here; minisign -V accepts ED and Ed", async () => {
  await withDir(async (dir) => {
    const { path, data } = payload(dir);
    const pub = join(dir, "k.pub"), sec = join(dir, "k.key");
    assert.equal((await minisign(["-G", "-W", "-p", pub, "-s", sec])).code, 0);
    const key = await parseSecretKey(Deno.readTextFileSync(sec));
    assert.equal(
      keyIdHex(key.keyId),
      keyIdHex(parsePublicKey(Deno.readTextFileSync(pub)).keyId),
    );
    for (const legacy of [false, true]) {
      const sig = await signMessage(data, key, {
        trustedComment: `timestamp:1700000000\tfile:x\tplugin:caddy\tlegacy:${legacy}`,
        legacy,
      });
      Deno.writeTextFileSync(`${path}.minisig`, formatSignature(sig));
      const v = await minisign(["-V", "-p", pub, "-m", path]);
      assert.equal(v.code, 0, v.stderr);
      assert.match(v.stdout, /Signature and comment signature verified/);
      assert.match(v.stdout, new RegExp(`Trusted comment: .*legacy:${legacy}`));
    }
  });
});

Deno.test("our key pair and signature: minisign -V verifies, minisign -S signs with our key", async () => {
  await withDir(async (dir) => {
    const { path, data } = payload(dir);
    const key = await generateKeyPair();
    const pub = join(dir, "ours.pub"), sec = join(dir, "ours.key");
    Deno.writeTextFileSync(pub, formatPublicKey(publicKeyFromSecret(key)));
    Deno.writeTextFileSync(sec, await formatSecretKey(key));
    const sig = await signMessage(data, key, { trustedComment: "timestamp:1\tfile:m\thashed" });
    Deno.writeTextFileSync(`${path}.minisig`, formatSignature(sig));
    const v = await minisign(["-V", "-p", pub, "-m", path]);
    assert.equal(v.code, 0, v.stderr);
    // Also given inline (-P) as the bare base64 line.
    const inline = Deno.readTextFileSync(pub).split("\n")[1];
    assert.equal((await minisign(["-Vm", path, "-P", inline])).code, 0);
    // minisign signs with the secret key file we wrote; we verify its signature.
    const other = join(dir, "other.bin");
    Deno.writeTextFileSync(other, "another file\n");
    const s = await minisign(["-S", "-s", sec, "-m", other]);
    assert.equal(s.code, 0, s.stderr);
    const v2 = await verifyMessage(
      Deno.readFileSync(other),
      parseSignature(Deno.readTextFileSync(`${other}.minisig`)),
      parsePublicKey(Deno.readTextFileSync(pub)),
    );
    assert.equal(v2.ok, true);
    // Tampered trusted comment: minisign and we both refuse.
    const lines = formatSignature(sig).split("\n");
    lines[2] = "trusted comment: timestamp:1\tfile:m\thashed\tplugin:evil";
    Deno.writeTextFileSync(`${path}.minisig`, lines.join("\n"));
    const t = await minisign(["-V", "-p", pub, "-m", path]);
    assert.notEqual(t.code, 0);
    assert.match(t.stderr, /Comment signature verification failed/);
    const ours = await verifyMessage(
      data,
      parseSignature(lines.join("\n")),
      publicKeyFromSecret(key),
    );
    assert.equal(!ours.ok && ours.reason, "trusted_comment_invalid");
  });
});

Deno.test("scrypt-encrypted secret keys: minisign's read here, ours read by minisign", async () => {
  await withDir(async (dir) => {
    const { path, data } = payload(dir);
    const pub = join(dir, "k.pub"), sec = join(dir, "k.key");
    const g = await minisign(["-G", "-p", pub, "-s", sec], "correct horse\ncorrect horse\n");
    assert.equal(g.code, 0, g.stderr + g.stdout);
    const text = Deno.readTextFileSync(sec);
    const key = await parseSecretKey(text, "correct horse");
    const sig = await signMessage(data, key, { trustedComment: "timestamp:2\tfile:enc" });
    Deno.writeTextFileSync(`${path}.minisig`, formatSignature(sig));
    const v = await minisign(["-V", "-p", pub, "-m", path]);
    assert.equal(v.code, 0, v.stderr);

    // Ours, encrypted (cheaper scrypt than minisign's 1 GiB, which minisign reads from the
    // file): minisign decrypts it with the password and signs; a wrong password is refused.
    const mine = join(dir, "mine.key");
    const cheap = { opslimit: 524288n, memlimit: 16777216n };
    const mineText = await formatSecretKey(key, "battery staple", cheap);
    Deno.writeTextFileSync(mine, mineText);
    await assert.rejects(() => parseSecretKey(mineText, "wrong"), /wrong password/);
    await assert.rejects(() => parseSecretKey(mineText), /a password is needed/);
    const s = await minisign(
      ["-S", "-s", mine, "-m", path, "-x", `${path}.2.minisig`],
      "battery staple\n",
    );
    assert.equal(s.code, 0, s.stderr + s.stdout);
    const v2 = await minisign(["-V", "-p", pub, "-m", path, "-x", `${path}.2.minisig`]);
    assert.equal(v2.code, 0, v2.stderr);
  });
});
