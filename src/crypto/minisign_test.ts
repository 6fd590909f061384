/**
 * The minisign parsers refuse bad input cleanly: every malformed key or
 * signature (wrong lengths, bad base64, unknown algorithms, missing lines,
 * random mutations of valid files) throws a VolantError("invalid_input")
 * naming the file kind, never another exception and never a wrong parse.
 */
import assert from "node:assert/strict";
import { VolantError } from "../errors.ts";
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
  scryptParams,
  signMessage,
  trustedFields,
  verifyMessage,
} from "./mod.ts";

const key = await generateKeyPair();
const message = new TextEncoder().encode('{"name":"caddy","version":"1.0.0"}\n');
const sig = await signMessage(message, key, { trustedComment: "timestamp:1\tfile:m\thashed" });
const SIG = formatSignature(sig);
const PUB = formatPublicKey(publicKeyFromSecret(key));
const SEC = await formatSecretKey(key);

function refused(fn: () => unknown, field: string, pattern?: RegExp): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof VolantError, `not a VolantError: ${error}`);
    assert.equal(error.code, "invalid_input");
    assert.equal(error.problems[0]?.field, field);
    if (pattern) assert.match(error.message, pattern);
    return;
  }
  assert.fail(`accepted: ${fn}`);
}

async function refusedAsync(fn: () => Promise<unknown>, field: string, pattern?: RegExp) {
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof VolantError, `not a VolantError: ${error}`);
    assert.equal(error.code, "invalid_input");
    assert.equal(error.problems[0]?.field, field);
    if (pattern) assert.match(error.message, pattern);
    return;
  }
  assert.fail("accepted");
}

/** base64 of `bytes` with the two algorithm bytes replaced. */
function withAlg(b64: string, alg: string): string {
  const raw = Uint8Array.fromBase64(b64);
  raw[0] = alg.charCodeAt(0);
  raw[1] = alg.charCodeAt(1);
  return raw.toBase64();
}

Deno.test("round trip: formats parse back to the same structures", () => {
  const pub = parsePublicKey(PUB);
  assert.deepEqual(pub.publicKey, key.publicKey);
  assert.equal(keyIdHex(pub.keyId), keyIdHex(key.keyId));
  assert.equal(pub.comment, `minisign public key ${keyIdComment(key.keyId)}`);
  assert.deepEqual(parsePublicKey(PUB.split("\n")[1]).publicKey, key.publicKey, "bare base64 line");
  assert.deepEqual(parsePublicKey(PUB.replaceAll("\n", "\r\n")).publicKey, key.publicKey);
  assert.deepEqual(parseSignature(SIG), sig);
  assert.equal(formatSignature(parseSignature(SIG)), SIG);
});

Deno.test("key id is printed as minisign prints it (little-endian u64, upper-case hex)", () => {
  assert.equal(keyIdHex(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 0xab])), "AB07060504030201");
  // minisign's .pub comment prints it with %PRIX64: no leading zeros (1 key in 16 has one).
  assert.equal(keyIdComment(Uint8Array.from([1, 2, 3, 4, 5, 6, 0x07, 0])), "7060504030201");
});

Deno.test("public keys: wrong lengths, bad base64, unknown algorithms, bad lines", () => {
  const b64 = PUB.split("\n")[1];
  const raw = Uint8Array.fromBase64(b64);
  refused(() => parsePublicKey(""), "public_key", /empty/);
  refused(() => parsePublicKey(raw.slice(0, 41).toBase64()), "public_key", /41 bytes, expected 42/);
  const longer = new Uint8Array(45);
  longer.set(raw);
  refused(() => parsePublicKey(longer.toBase64()), "public_key", /45 bytes/);
  refused(() => parsePublicKey(b64.slice(0, -1)), "public_key", /base64/);
  refused(() => parsePublicKey(b64.replace(/.$/, "!")), "public_key", /base64/);
  refused(() => parsePublicKey(b64.slice(0, 20) + " " + b64.slice(21)), "public_key", /base64/);
  refused(() => parsePublicKey(withAlg(b64, "ED")), "public_key", /unsupported key algorithm "ED"/);
  refused(
    () => parsePublicKey(withAlg(b64, "\0\0")),
    "public_key",
    /unsupported key algorithm 0x00/,
  );
  refused(() => parsePublicKey(`comment\n${b64}`), "public_key", /untrusted comment/);
  refused(() => parsePublicKey(`${PUB}extra\n`), "public_key", /expected 2 lines, got 3|got 3/);
  // The secret key is not a public key.
  refused(() => parsePublicKey(SEC), "public_key", /158 bytes/);
});

Deno.test("signatures: wrong lengths, bad base64, unknown algorithms, missing lines", () => {
  const lines = SIG.split("\n");
  const at = (i: number, v: string) => lines.map((l, j) => j === i ? v : l).join("\n");
  refused(() => parseSignature(""), "signature", /expected 4 lines/);
  refused(() => parseSignature(lines.slice(0, 3).join("\n")), "signature", /got 3/);
  refused(() => parseSignature(at(0, "comment: x")), "signature", /line 1/);
  refused(() => parseSignature(at(2, "comment: x")), "signature", /line 3/);
  refused(() => parseSignature(at(1, lines[1].slice(4))), "signature", /bytes|base64/);
  refused(() => parseSignature(at(1, "====")), "signature", /base64/);
  refused(() => parseSignature(at(1, "@" + lines[1].slice(1))), "signature", /base64/);
  refused(() => parseSignature(at(1, withAlg(lines[1], "Ex"))), "signature", /algorithm "Ex"/);
  refused(() => parseSignature(at(1, withAlg(lines[1], "\x01\x02"))), "signature", /algorithm 0x/);
  refused(() => parseSignature(at(3, lines[3].slice(0, -4))), "signature", /global signature/);
  refused(
    () => parseSignature(at(2, "trusted comment: " + "x".repeat(9000))),
    "signature",
    /longer than/,
  );
  refused(() => parseSignature(SIG + "junk\n"), "signature", /got 5/);
  // A trailing blank line or CRLF line ends are fine.
  assert.deepEqual(parseSignature(SIG + "\n"), sig);
  assert.deepEqual(parseSignature(SIG.replaceAll("\n", "\r\n")), sig);
});

Deno.test("secret keys: wrong lengths, algorithms, KDF, checksum", async () => {
  const [comment, b64] = SEC.trim().split("\n");
  const raw = Uint8Array.fromBase64(b64);
  const mutate = (f: (r: Uint8Array) => void) => {
    const r = raw.slice();
    f(r);
    return `${comment}\n${r.toBase64()}\n`;
  };
  await refusedAsync(
    () => parseSecretKey(`${comment}\n${raw.slice(1).toBase64()}`),
    "secret_key",
    /157 bytes/,
  );
  await refusedAsync(
    () => parseSecretKey(mutate((r) => r.set([0x45, 0x45]))),
    "secret_key",
    /key algorithm/,
  );
  await refusedAsync(
    () => parseSecretKey(mutate((r) => r.set([0x58, 0x58], 2))),
    "secret_key",
    /derivation/,
  );
  await refusedAsync(
    () => parseSecretKey(mutate((r) => r.set([0x42, 0x33], 4))),
    "secret_key",
    /checksum algorithm/,
  );
  await refusedAsync(
    () => parseSecretKey(mutate((r) => r[70] ^= 1)),
    "secret_key",
    /checksum mismatch/,
  );
  // Zero checksum (what `minisign -W` writes) is accepted; a seed not matching its public half is not.
  const zero = mutate((r) => r.fill(0, 54 + 72));
  assert.deepEqual((await parseSecretKey(zero)).seed, key.seed);
  await refusedAsync(
    () =>
      parseSecretKey(mutate((r) => {
        r[62] ^= 1;
        r.fill(0, 54 + 72);
      })),
    "secret_key",
    /does not match/,
  );
  await refusedAsync(() => parseSecretKey(`${comment}\n`), "secret_key", /2 lines/);
});

Deno.test("scrypt parameters follow libsodium's pickparams", () => {
  // minisign's SENSITIVE limits: N = 2^20, r = 8, p = 1.
  assert.deepEqual(scryptParams(33554432n, 1073741824n), { logN: 20, r: 8, p: 1 });
  // INTERACTIVE (524288, 16 MiB): N = 2^14.
  assert.deepEqual(scryptParams(524288n, 16777216n), { logN: 14, r: 8, p: 1 });
  // opslimit below memlimit/32: N from opslimit, p = 1.
  assert.deepEqual(scryptParams(32768n, 1n << 40n), { logN: 10, r: 8, p: 1 });
});

Deno.test("fuzz: random mutations of valid files are refused or parse to something else, never crash", async () => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n\r\t :!é\0";
  const rand = (n: number) => Math.floor(Math.random() * n);
  const pubKey = publicKeyFromSecret(key);
  let refusedCount = 0;
  for (let i = 0; i < 2000; i++) {
    const base = i % 2 === 0 ? SIG : PUB;
    const chars = [...base];
    const edits = 1 + rand(4);
    for (let e = 0; e < edits; e++) {
      const pos = rand(chars.length + 1);
      const op = rand(3);
      const c = alphabet[rand(alphabet.length)];
      if (op === 0) chars.splice(pos, 1);
      else if (op === 1) chars.splice(pos, 0, c);
      else chars[pos] = c;
    }
    const text = chars.join("");
    try {
      if (base === SIG) {
        const parsed = parseSignature(text);
        // A mutation that still parses must not verify unless it only touched what is unsigned.
        const v = await verifyMessage(message, parsed, pubKey);
        if (v.ok) {
          assert.deepEqual(parsed.signature, sig.signature);
          assert.equal(parsed.trustedComment, sig.trustedComment);
          assert.deepEqual(parsed.globalSignature, sig.globalSignature);
        }
      } else {
        parsePublicKey(text);
      }
    } catch (error) {
      assert.ok(error instanceof VolantError, `mutation ${JSON.stringify(text)}: ${error}`);
      assert.equal(error.code, "invalid_input");
      refusedCount++;
    }
  }
  assert.ok(refusedCount > 1000, `only ${refusedCount} of 2000 mutations refused`);
});

Deno.test("trusted comment fields", () => {
  const f = trustedFields("timestamp:1700000000\tfile:a:b.json\thashed\tplugin:caddy");
  assert.equal(f.get("timestamp"), "1700000000");
  assert.equal(f.get("file"), "a:b.json");
  assert.equal(f.get("hashed"), "");
  assert.equal(f.get("plugin"), "caddy");
});
