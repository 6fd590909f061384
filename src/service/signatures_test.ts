/**
 * Signed plugin installs through the real services: a real SQLite store, a
 * real HTTP server on 127.0.0.1 serving the manifest, its `.minisig` and the
 * artifact, trusted keys as real files. Every refusal installs nothing and
 * downloads no artifact.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  formatPublicKey,
  formatSignature,
  generateKeyPair,
  keyIdHex,
  type MinisignSecretKey,
  publicKeyFromSecret,
  signMessage,
} from "../crypto/mod.ts";
import { isVolantError, type VolantError } from "../errors.ts";
import { openStore } from "../store/mod.ts";
import { createServices } from "./mod.ts";

const enc = new TextEncoder();
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const ARTIFACT = enc.encode("initramfs bytes");

function manifestText(name = "web", version = "1.0"): string {
  return JSON.stringify(
    {
      name,
      version,
      resources: { cpu_cores: 1, memory_mb: 128 },
      workload: { type: "http", base_url: "http://127.0.0.1:80", entrypoint: ["/bin/httpd"] },
      initramfs: { url: "boot.cpio.gz", checksum: `sha256:${sha(ARTIFACT)}` },
    },
    null,
    2,
  ) + "\n";
}

async function sign(text: string, key: MinisignSecretKey, comment?: string): Promise<string> {
  const m = JSON.parse(text);
  const sig = await signMessage(enc.encode(text), key, {
    trustedComment: comment ??
      `timestamp:1700000000\tfile:manifest.json\tplugin:${m.name}\tversion:${m.version}`,
  });
  return formatSignature(sig);
}

async function fixture(opts: { requireSignatures?: boolean } = {}) {
  const dir = await Deno.makeTempDir();
  const state = `${dir}/state`;
  const files = new Map<string, Uint8Array>();
  const hits: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    hits.push(path);
    const body = files.get(path);
    return body
      ? new Response(body as Uint8Array<ArrayBuffer>)
      : new Response("missing", { status: 404 });
  });
  const store = openStore({ stateDir: state });
  const services = createServices({
    store,
    // The artifact server is on loopback: allowed as an operator would (--allow-private-sources).
    options: {
      stateDir: state,
      requireSignatures: opts.requireSignatures,
      downloads: { allowPrivateSources: true },
    },
  });
  files.set("/p/boot.cpio.gz", ARTIFACT);
  return {
    dir,
    state,
    base: `http://127.0.0.1:${server.addr.port}`,
    files,
    hits,
    services,
    publish(text: string, sig?: string) {
      files.set("/p/manifest.json", enc.encode(text));
      if (sig === undefined) files.delete("/p/manifest.json.minisig");
      else files.set("/p/manifest.json.minisig", enc.encode(sig));
    },
    async close() {
      await services.close();
      store.close();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

type Fixture = Awaited<ReturnType<typeof fixture>>;

async function refusedWith(f: Fixture, reason: string, keyId: string, pattern?: RegExp) {
  await assert.rejects(
    f.services.plugins.install({ url: `${f.base}/p/manifest.json`, allow_unverified: false }),
    (e) => {
      assert.ok(isVolantError(e, "forbidden"), String(e));
      assert.equal((e as VolantError).details.reason, reason);
      if (keyId) {
        assert.equal((e as VolantError).details.key_id, keyId);
        assert.match((e as VolantError).message, new RegExp(keyId));
      }
      if (pattern) assert.match((e as VolantError).message, pattern);
      assert.equal((e as VolantError).problems[0].field, "signature");
      return true;
    },
  );
  assert.deepEqual(f.services.plugins.list(), [], "nothing installed");
  assert.ok(!f.hits.includes("/p/boot.cpio.gz"), "no artifact fetched");
}

const key = await generateKeyPair();
const keyId = keyIdHex(key.keyId);
const pub = formatPublicKey(publicKeyFromSecret(key));

Deno.test("signed by a trusted key: installed, signer and time recorded, event names the key", async () => {
  const f = await fixture();
  try {
    await f.services.keys.add({ name: "alice", public_key: pub });
    const text = manifestText();
    f.publish(text, await sign(text, key));
    const r = await f.services.plugins.install({
      url: `${f.base}/p/manifest.json`,
      allow_unverified: false,
    });
    assert.equal(r.outcome, "installed");
    assert.deepEqual({ ...r.plugin.signature, verified_at: "x" }, {
      key_id: keyId,
      key_name: "alice",
      algorithm: "ED",
      trusted_comment: "timestamp:1700000000\tfile:manifest.json\tplugin:web\tversion:1.0",
      signed_at: "2023-11-14T22:13:20.000Z",
      verified_at: "x",
      source: `${f.base}/p/manifest.json.minisig`,
    });
    assert.deepEqual(f.services.plugins.get("web").signature, r.plugin.signature, "persisted");
    const ev = f.services.events.list({}).find((e) => e.type === "plugin.installed");
    assert.equal(ev?.data?.signed_by, keyId);
    assert.deepEqual(f.hits.slice(0, 2), ["/p/manifest.json", "/p/manifest.json.minisig"]);
  } finally {
    await f.close();
  }
});

Deno.test("untrusted key, key out of scope, one byte changed, comment altered or naming another version: refused", async () => {
  const f = await fixture();
  try {
    const text = manifestText();
    f.publish(text, await sign(text, key));
    await refusedWith(f, "untrusted_key", keyId, /not trusted/);

    await f.services.keys.add({ name: "alice", public_key: pub, plugins: ["other", "db"] });
    await refusedWith(f, "out_of_scope", keyId, /\(alice\) may sign only db, other/);
    await f.services.keys.remove("alice");
    await f.services.keys.add({ name: "alice", public_key: pub, plugins: ["web"] });

    const changed = text.replace('"memory_mb": 128', '"memory_mb": 129');
    assert.equal(changed.length, text.length);
    f.publish(changed, await sign(text, key));
    await refusedWith(f, "signature_invalid", keyId, /does not match the file/);

    const lines = (await sign(text, key)).split("\n");
    lines[2] = lines[2].replace("version:1.0", "version:9.9");
    f.publish(text, lines.join("\n"));
    await refusedWith(f, "trusted_comment_invalid", keyId, /altered/);

    f.publish(text, await sign(text, key, "timestamp:1\tplugin:web\tversion:0.9"));
    await refusedWith(f, "trusted_comment_mismatch", keyId, /version "0.9", not "1.0"/);

    // Signed by another key with the same name's scope: still the key id decides.
    const other = await generateKeyPair();
    f.publish(text, await sign(text, other));
    await refusedWith(f, "untrusted_key", keyIdHex(other.keyId));

    // The right signature, finally.
    f.publish(text, await sign(text, key));
    const r = await f.services.plugins.install({
      url: `${f.base}/p/manifest.json`,
      allow_unverified: false,
    });
    assert.equal(r.plugin.signature?.key_name, "alice");
  } finally {
    await f.close();
  }
});

Deno.test("unsigned: installed without a signature by default, refused when signatures are required", async () => {
  const open = await fixture();
  try {
    open.publish(manifestText());
    const r = await open.services.plugins.install({
      url: `${open.base}/p/manifest.json`,
      allow_unverified: false,
    });
    assert.equal(r.plugin.signature, null);
  } finally {
    await open.close();
  }
  const strict = await fixture({ requireSignatures: true });
  try {
    strict.publish(manifestText());
    await refusedWith(strict, "unsigned", "", /unsigned .*HTTP 404.*requires signatures/);
  } finally {
    await strict.close();
  }
});

Deno.test("a malformed .minisig is invalid_input naming the signature, nothing installed", async () => {
  const f = await fixture();
  try {
    f.publish(manifestText(), "untrusted comment: x\nnot base64!\ntrusted comment: y\nAAAA\n");
    await assert.rejects(
      f.services.plugins.install({ url: `${f.base}/p/manifest.json`, allow_unverified: false }),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "signature",
    );
    assert.deepEqual(f.services.plugins.list(), []);
  } finally {
    await f.close();
  }
});

Deno.test("signature beside a local manifest file, in the request, or at signature_url", async () => {
  const f = await fixture({ requireSignatures: true });
  try {
    await f.services.keys.add({ name: "alice", public_key: pub });
    const text = manifestText("local", "2.0");
    const path = `${f.dir}/local.manifest.json`;
    Deno.writeTextFileSync(path, text);
    Deno.writeFileSync(`${f.dir}/boot.cpio.gz`, ARTIFACT);
    Deno.writeTextFileSync(`${path}.minisig`, await sign(text, key));
    const r = await f.services.plugins.install({ path, allow_unverified: false });
    assert.equal(r.plugin.signature?.source, `${path}.minisig`);

    // The exact text in the body plus the signature text (what volar --api sends).
    const bodyText = manifestText("inline", "1.0").replace(
      '"boot.cpio.gz"',
      `"${f.base}/p/boot.cpio.gz"`,
    );
    const inline = await f.services.plugins.install({
      manifest: bodyText,
      signature: await sign(bodyText, key),
      allow_unverified: false,
    });
    assert.equal(inline.plugin.signature?.source, "request");
    // A manifest object cannot be checked against a signature over bytes.
    await assert.rejects(
      f.services.plugins.install({
        manifest: JSON.parse(bodyText),
        signature: await sign(bodyText, key),
        allow_unverified: false,
      }),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "manifest",
    );
    // signature_url elsewhere; a missing one is an error, not "unsigned".
    const text3 = manifestText("third", "1.0");
    f.publish(text3);
    f.files.set("/sigs/third.minisig", enc.encode(await sign(text3, key)));
    const third = await f.services.plugins.install({
      url: `${f.base}/p/manifest.json`,
      signature_url: `${f.base}/sigs/third.minisig`,
      allow_unverified: false,
    });
    assert.equal(third.plugin.signature?.source, `${f.base}/sigs/third.minisig`);
    await assert.rejects(
      f.services.plugins.install({
        url: `${f.base}/p/manifest.json`,
        signature_url: `${f.base}/sigs/none.minisig`,
        allow_unverified: false,
      }),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "signature_url",
    );
  } finally {
    await f.close();
  }
});

Deno.test("trusted keys: files under the state dir, duplicates refused, bad keys refused, stray files ignored", async () => {
  const f = await fixture();
  try {
    const k = await f.services.keys.add({
      name: "alice",
      public_key: pub,
      plugins: ["web", "web", "db"],
    });
    assert.equal(k.key_id, keyId);
    assert.deepEqual(k.plugins, ["db", "web"]);
    const file = JSON.parse(Deno.readTextFileSync(`${f.state}/trusted_keys/alice.json`));
    assert.deepEqual(file, k);
    assert.equal(Deno.statSync(`${f.state}/trusted_keys`).mode! & 0o777, 0o700);
    await assert.rejects(
      f.services.keys.add({
        name: "alice",
        public_key: formatPublicKey(publicKeyFromSecret(await generateKeyPair())),
      }),
      (e) => isVolantError(e, "conflict") && e.problems[0].field === "name",
    );
    await assert.rejects(
      f.services.keys.add({ name: "bob", public_key: pub.split("\n")[1] }),
      (e) => isVolantError(e, "conflict") && e.message.includes(`already trusted as alice`),
    );
    await assert.rejects(
      f.services.keys.add({ name: "bob", public_key: "RWQ" + "A".repeat(10) }),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "public_key",
    );
    // A hand-edited file whose key id lies about its key is not trusted.
    Deno.writeTextFileSync(
      `${f.state}/trusted_keys/mallory.json`,
      JSON.stringify({ ...k, name: "mallory", key_id: "0000000000000000" }),
    );
    Deno.writeTextFileSync(`${f.state}/trusted_keys/junk.json`, "{");
    assert.deepEqual((await f.services.keys.list()).map((x) => x.name), ["alice"]);
    await f.services.keys.remove("alice");
    await assert.rejects(f.services.keys.get("alice"), (e) => isVolantError(e, "not_found"));
    await assert.rejects(f.services.keys.remove("alice"), (e) => isVolantError(e, "not_found"));
    const types = f.services.events.list({}).map((e) => e.type);
    assert.deepEqual(types, ["key.added", "key.removed"]);
  } finally {
    await f.close();
  }
});
