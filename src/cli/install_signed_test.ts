/**
 * volar against the real app over real sockets: with `--api` a local
 * manifest's `.minisig` is read by volar and sent with the manifest's exact
 * text; `volar keys` adds the key; `--signature FILE` picks another file.
 */
import assert from "node:assert/strict";
import { serveApi, writePlugin } from "../client/testing.ts";
import {
  formatPublicKey,
  formatSignature,
  generateKeyPair,
  keyIdHex,
  publicKeyFromSecret,
  signMessage,
} from "../crypto/mod.ts";
import { run } from "./main.ts";
import { captureIo } from "./testing.ts";

Deno.test("volar --api plugins install: the local .minisig travels with the exact manifest text", async () => {
  const api = await serveApi({ tcp: true });
  const dir = api.fixture.dir;
  const path = await writePlugin(dir, "web");
  const manifest = JSON.parse(await Deno.readTextFile(path));
  const blob = await Deno.readFile(`${dir}/web-1.0.0/boot.cpio.gz`);
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(blob),
  );
  const key = await generateKeyPair();
  const keyId = keyIdHex(key.keyId);
  const volar = async (...args: string[]) => {
    const env = { VOLANT_API: api.url!, VOLANT_TOKEN: "test-token-0123456789abcdef" };
    const cap = captureIo({ env, cwd: dir });
    const code = await run(args, cap.io);
    return { code, out: cap.stdout(), err: cap.stderr() };
  };
  try {
    // Odd spacing on purpose: a re-serialised object would not match the signature.
    const text = JSON.stringify(
      {
        ...manifest,
        name: "remote",
        initramfs: {
          ...manifest.initramfs,
          url: `http://127.0.0.1:${http.addr.port}/boot.cpio.gz`,
        },
      },
      null,
      3,
    );
    Deno.writeTextFileSync(`${dir}/remote.json`, text);
    const sig = await signMessage(new TextEncoder().encode(text), key, {
      trustedComment: "timestamp:1764676800\tfile:remote.json\thashed\tplugin:remote",
    });
    Deno.writeTextFileSync(`${dir}/remote.json.minisig`, formatSignature(sig));
    Deno.writeTextFileSync(`${dir}/k.pub`, formatPublicKey(publicKeyFromSecret(key)));

    const untrusted = await volar("plugins", "install", "remote.json");
    assert.equal(untrusted.code, 5, untrusted.err);
    assert.equal(
      untrusted.err,
      `volar: signature: plugin remote 1.0.0: signed by key ${keyId}, which is not trusted ` +
        "(volar keys add NAME KEY.pub to trust it)\n",
    );
    const add = await volar("keys", "add", "ci", "k.pub");
    assert.equal(add.code, 0, add.err);
    const ok = await volar("plugins", "install", "remote.json");
    assert.equal(ok.code, 0, ok.err);
    assert.equal(
      ok.out,
      `plugin remote 1.0.0 installed (1 artifact, 4.0 KiB)\nsigned by ci (key ${keyId})\n`,
    );
    const show = await volar("plugins", "show", "remote");
    assert.match(
      show.out,
      new RegExp(`Signed by:\\s+ci \\(key ${keyId}, ED\\), signed 2025-12-02T12:00:00.000Z`),
    );

    // --signature FILE: a signature of other bytes is refused, naming the key.
    Deno.writeTextFileSync(
      `${dir}/other.minisig`,
      formatSignature(
        await signMessage(new TextEncoder().encode("{}"), key, { trustedComment: "x" }),
      ),
    );
    const wrong = await volar("plugins", "install", "remote.json", "--signature", "other.minisig");
    assert.equal(wrong.code, 5);
    assert.match(wrong.err, new RegExp(`signature by key ${keyId} does not match the file`));
    const keys = await volar("keys", "list", "-o", "json");
    assert.equal(JSON.parse(keys.out)[0].key_id, keyId);
  } finally {
    await http.shutdown();
    await api.close();
  }
});
