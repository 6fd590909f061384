import assert from "node:assert/strict";
import {
  formatPublicKey,
  formatSignature,
  generateKeyPair,
  keyIdHex,
  publicKeyFromSecret,
  signMessage,
} from "../../crypto/mod.ts";
import { apiFixture, jsonBody, writePlugin } from "../testing/fixtures.ts";

const key = await generateKeyPair();
const pub = formatPublicKey(publicKeyFromSecret(key));

Deno.test("keys: add (201 + Location), list, show, remove (204), then 404", async () => {
  const f = await apiFixture();
  try {
    const res = await f.unix("/api/v1/keys", jsonBody("POST", { name: "ci", public_key: pub }));
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("location"), "/api/v1/keys/ci");
    const added = await res.json();
    assert.equal(added.key_id, keyIdHex(key.keyId));
    assert.deepEqual(added.plugins, []);
    const list = await (await f.unix("/api/v1/keys")).json();
    assert.deepEqual(list.items.map((k: { name: string }) => k.name), ["ci"]);
    assert.deepEqual(await (await f.unix("/api/v1/keys/ci")).json(), added);
    const del = await f.unix("/api/v1/keys/ci", { method: "DELETE" });
    assert.equal(del.status, 204);
    const gone = await f.unix("/api/v1/keys/ci");
    assert.equal(gone.status, 404);
    assert.equal((await gone.json()).code, "not_found");
  } finally {
    await f.close();
  }
});

Deno.test("keys: bad bodies are 400 problem+json naming the field; duplicates 409", async () => {
  const f = await apiFixture();
  try {
    const cases: [unknown, string][] = [
      [{ public_key: pub }, "name"],
      [{ name: "Bad_Name", public_key: pub }, "name"],
      [{ name: "ci", public_key: "" }, "public_key"],
      [{ name: "ci", public_key: "RWQ!!!!" }, "public_key"],
      [{ name: "ci", public_key: pub.replace(/RW/, "RX") }, "public_key"],
      [{ name: "ci", public_key: pub, plugins: ["UPPER"] }, "plugins.0"],
      [{ name: "ci", public_key: pub, extra: 1 }, "extra"],
    ];
    for (const [body, field] of cases) {
      const res = await f.unix("/api/v1/keys", jsonBody("POST", body));
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      const problem = await res.json();
      assert.ok(
        problem.errors.some((e: { field: string }) => e.field === field),
        `${JSON.stringify(body)} -> ${JSON.stringify(problem.errors)}`,
      );
    }
    const ok = await f.unix("/api/v1/keys", jsonBody("POST", { name: "ci", public_key: pub }));
    assert.equal(ok.status, 201);
    await ok.body?.cancel();
    const dup = await f.unix("/api/v1/keys", jsonBody("POST", { name: "ci2", public_key: pub }));
    assert.equal(dup.status, 409);
    assert.match((await dup.json()).detail ?? "", /already trusted as ci/);
  } finally {
    await f.close();
  }
});

Deno.test("plugins: a signature by an untrusted key is 403 naming the key id; trusted is 201 with the signer", async () => {
  const f = await apiFixture();
  try {
    const path = await writePlugin(f.dir, "caddy");
    const text = Deno.readTextFileSync(path);
    const sig = await signMessage(new TextEncoder().encode(text), key, {
      trustedComment: "timestamp:1\tfile:manifest.json\thashed\tplugin:caddy",
    });
    Deno.writeTextFileSync(`${path}.minisig`, formatSignature(sig));
    const refused = await f.unix("/api/v1/plugins", jsonBody("POST", { path }));
    assert.equal(refused.status, 403);
    assert.equal(refused.headers.get("content-type"), "application/problem+json");
    const problem = await refused.json();
    assert.equal(problem.key_id, keyIdHex(key.keyId));
    assert.equal(problem.reason, "untrusted_key");
    assert.equal(problem.errors[0].field, "signature");
    await (await f.unix("/api/v1/keys", jsonBody("POST", { name: "ci", public_key: pub }))).body
      ?.cancel();
    const res = await f.unix("/api/v1/plugins", jsonBody("POST", { path }));
    assert.equal(res.status, 201);
    const body = await res.json();
    assert.equal(body.plugin.signature.key_name, "ci");
    assert.equal(body.plugin.signature.signed_at, "1970-01-01T00:00:01.000Z");
  } finally {
    await f.close();
  }
});
