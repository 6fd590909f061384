import assert from "node:assert/strict";
import {
  checkCmdlineBudget,
  CMDLINE_LIMIT,
  decodeManifestValue,
  encodeManifest,
  joinCmdline,
  parseCmdline,
} from "./cmdline.ts";
import type { PluginManifest } from "./plugin.ts";
import { parseManifest, validateManifest } from "./validate.ts";
import { VolantError } from "../errors.ts";

const HEX = "ab".repeat(32);

function sample(): PluginManifest {
  return parseManifest({
    name: "web",
    version: "1.0.0",
    initramfs: { url: "web.cpio.gz", checksum: "sha256:" + HEX },
    resources: { cpu_cores: 1, memory_mb: 128 },
    workload: { type: "http", base_url: "http://127.0.0.1:80", entrypoint: ["/bin/httpd", "-f"] },
    health_check: { endpoint: "/" },
  });
}

Deno.test("encode: base64url without padding of gzip(JSON)", async () => {
  const encoded = await encodeManifest(sample());
  assert.match(encoded, /^[A-Za-z0-9_-]+$/);
  assert.ok(!encoded.includes("="));
  assert.ok(encoded.startsWith("H4sI"), "gzip magic 1f 8b 08 encodes as H4sI");
});

Deno.test("encode: action payload schemas stay on the host; the rest of the action rides", async () => {
  const m = {
    ...sample(),
    actions: {
      status: {
        method: "POST",
        path: "/status",
        timeout_ms: 5000,
        payload_schema: { type: "object", properties: { verbose: { type: "boolean" } } },
      },
    },
  };
  const decoded = await decodeManifestValue(await encodeManifest(m)) as PluginManifest;
  assert.deepEqual(decoded.actions, {
    status: { method: "POST", path: "/status", timeout_ms: 5000 },
  });
  assert.ok(m.actions.status.payload_schema, "the caller's manifest is not changed");
});

Deno.test("decode accepts unpadded, padded, and raw JSON", async () => {
  const m = sample();
  const encoded = await encodeManifest(m);
  assert.deepEqual(await decodeManifestValue(encoded), m);
  const padded = encoded + "=".repeat((4 - (encoded.length % 4)) % 4);
  assert.deepEqual(await decodeManifestValue(padded), m);
  assert.deepEqual(await decodeManifestValue(JSON.stringify(m)), m);
  // base64url of plain (not gzipped) JSON: Volant's legacy form.
  const plain = btoa(JSON.stringify(m)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  assert.deepEqual(await decodeManifestValue(plain), m);
});

Deno.test("decode rejects garbage with a clear error", async () => {
  await assert.rejects(decodeManifestValue("!!not base64!!"), /neither base64url nor JSON/);
  await assert.rejects(decodeManifestValue("H4sIAAAAAAAA_wMA"), VolantError);
  await assert.rejects(decodeManifestValue("aGVsbG8"), /does not decode to JSON/);
});

Deno.test("parseCmdline: key=value, bare words, quotes, last one wins", () => {
  const m = parseCmdline('console=ttyS0 quiet volant.ip=10.0.0.2/24 x="a b" volant.ip=10.0.0.3/24');
  assert.equal(m.get("console"), "ttyS0");
  assert.equal(m.get("quiet"), "");
  assert.equal(m.get("x"), "a b");
  assert.equal(m.get("volant.ip"), "10.0.0.3/24");
});

Deno.test("joinCmdline keeps order, quotes spaces, refuses quotes", () => {
  const line = joinCmdline(["console=ttyS0", ""], [["volant.hostname", "web"], ["k", "a b"]]);
  assert.equal(line, 'console=ttyS0 volant.hostname=web k="a b"');
  assert.throws(() => joinCmdline([], [["k", 'a"b']]), VolantError);
});

Deno.test("budget: fits under the limit, fails over it naming size, limit and biggest fields", async () => {
  checkCmdlineBudget("console=ttyS0", sample());
  const big = parseManifest({
    ...sample(),
    labels: Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`label-${i}`, crypto.randomUUID()]),
    ),
  });
  const line = `console=ttyS0 volant.manifest=${await encodeManifest(big)}`;
  assert.throws(() => checkCmdlineBudget(line, big), (e: unknown) => {
    assert.ok(e instanceof VolantError);
    assert.equal(e.code, "invalid_input");
    assert.match(e.message, new RegExp(`is ${line.length + 1} bytes, over the ${CMDLINE_LIMIT}`));
    assert.match(e.message, /biggest manifest fields: labels/);
    return true;
  });
  // Exactly at the limit (2047 characters + NUL) still fits.
  checkCmdlineBudget("x".repeat(CMDLINE_LIMIT - 1));
  assert.throws(() => checkCmdlineBudget("x".repeat(CMDLINE_LIMIT)), VolantError);
});

/** Small deterministic PRNG (mulberry32) so a failing case can be replayed from its seed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomManifest(next: () => number): Record<string, unknown> {
  const pick = <T>(xs: T[]) => xs[Math.floor(next() * xs.length)];
  const word = (n: number) =>
    Array.from(
      { length: 1 + Math.floor(next() * n) },
      () => pick([..."abcdefghijklmnopqrstuvwxyz0123456789"]),
    )
      .join("");
  const name = "p" + word(20);
  const m: Record<string, unknown> = {
    name,
    version: `${Math.floor(next() * 10)}.${Math.floor(next() * 100)}.${word(3)}`,
    resources: { cpu_cores: 1 + Math.floor(next() * 8), memory_mb: 64 + Math.floor(next() * 4096) },
    workload: {
      type: "http",
      base_url: `http://127.0.0.1:${1 + Math.floor(next() * 65535)}`,
      entrypoint: Array.from({ length: 1 + Math.floor(next() * 4) }, () => "/" + word(12)),
      env: Object.fromEntries(
        Array.from(
          { length: Math.floor(next() * 5) },
          () => ["E_" + word(6).toUpperCase(), word(30)],
        ),
      ),
    },
  };
  const hex = Array.from({ length: 64 }, () => pick([..."0123456789abcdef"])).join("");
  if (next() < 0.7) m.initramfs = { url: word(10) + ".cpio.gz", checksum: "sha256:" + hex };
  if (!m.initramfs || next() < 0.3) {
    m.rootfs = { url: "https://h/" + word(8), format: pick(["raw", "qcow2"]) };
  }
  if (next() < 0.5) {
    m.health_check = { endpoint: "/" + word(8), timeout_ms: 1 + Math.floor(next() * 60000) };
  }
  if (next() < 0.3) m.labels = { [word(5)]: word(10) };
  if (next() < 0.2) m.actions = { [word(5)]: { method: "POST", path: "/" + word(6) } };
  return m;
}

Deno.test("property: 1,000 random valid manifests survive encode -> decode unchanged", async () => {
  const next = rng(20261125);
  for (let i = 0; i < 1000; i++) {
    const result = validateManifest(randomManifest(next));
    assert.ok(result.ok, `case ${i}: ${JSON.stringify(result)}`);
    const encoded = await encodeManifest(result.manifest);
    assert.match(encoded, /^[A-Za-z0-9_-]+$/, `case ${i}`);
    const decoded = await decodeManifestValue(encoded);
    assert.deepEqual(decoded, result.manifest, `case ${i}`);
    assert.deepEqual(parseManifest(decoded), result.manifest, `case ${i}: decode is re-parseable`);
  }
});
