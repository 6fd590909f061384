import assert from "node:assert/strict";
import {
  formatAck,
  formatIdentity,
  hasAck,
  IdentityLineError,
  type IdentityMessage,
  newNonce,
  NonceGuard,
  parseIdentity,
} from "./identity_line.ts";

const msg: IdentityMessage = {
  nonce: "0123abcd89ef4567",
  address: "10.91.0.7",
  prefix: 24,
  gateway: "10.91.0.1",
  mac: "02:aa:bb:cc:dd:07",
  hostname: "k3",
  seed: new Uint8Array(32).map((_, i) => i * 7),
  agentKey: "A".repeat(43),
};

Deno.test("identity line: format then parse gives the message back, under 200 bytes", () => {
  const line = formatIdentity(msg);
  assert.ok(line.length < 200, `${line.length}`);
  assert.deepEqual(parseIdentity(line), msg);
  const noKey = { ...msg, agentKey: undefined };
  delete noKey.agentKey;
  assert.deepEqual(parseIdentity(formatIdentity(noKey)), noKey);
  // Surrounding whitespace and a CR from a terminal do not matter.
  assert.deepEqual(parseIdentity(`  ${line}\r`), msg);
  assert.match(newNonce(), /^[0-9a-f]{16}$/);
});

Deno.test("identity line: each malformed part is refused, naming it", () => {
  const good = formatIdentity(msg).split(" ");
  const cases: [number, string, string][] = [
    [1, "XYZ", "nonce"],
    [1, "abc", "nonce"],
    [2, "10.91.0.7", "address"],
    [2, "10.91.0.300/24", "address"],
    [2, "10.91.0.7/33", "address"],
    [3, "gw", "gateway"],
    [4, "02:aa:bb:cc:dd", "mac"],
    [4, "03:aa:bb:cc:dd:07", "mac"],
    [5, "-bad-", "hostname"],
    [6, "00", "seed"],
    [6, "Z".repeat(64), "seed"],
    [7, "short", "agent_key"],
  ];
  for (const [i, value, field] of cases) {
    const f = [...good];
    f[i] = value;
    assert.throws(
      () => parseIdentity(f.join(" ")),
      (e: unknown) => e instanceof IdentityLineError && e.field === field,
      `${field} = ${value}`,
    );
  }
  assert.throws(() => parseIdentity("volant-identity a b"), /line: 2 fields/);
  assert.throws(() => parseIdentity(`${good.join(" ")} extra`), /line: 8 fields/);
  assert.throws(() => parseIdentity("ls -l"), /command/);
});

Deno.test("identity ack: found only for its own nonce, as a whole word", () => {
  const log = `boot...\nkestrel: identity: ${formatAck("0123abcd")} eth0 10.0.0.2/24\n`;
  assert.ok(hasAck(log, "0123abcd"));
  assert.ok(!hasAck(log, "0123abc"));
  assert.ok(!hasAck(log, "ffffffff"));
  // The echoed request line carries the nonce but is no ack.
  assert.ok(!hasAck(`volant-identity 0123abcd 10.0.0.2/24`, "0123abcd"));
});

Deno.test("nonce guard: new applies, the last one again re-acks, an older one is a replay", () => {
  const g = new NonceGuard(3);
  assert.equal(g.check("aaaaaaaa"), "apply");
  g.applied("aaaaaaaa");
  assert.equal(g.check("aaaaaaaa"), "ack");
  g.applied("bbbbbbbb");
  assert.equal(g.check("aaaaaaaa"), "replay");
  assert.equal(g.check("bbbbbbbb"), "ack");
  assert.equal(g.check("cccccccc"), "apply");
});
