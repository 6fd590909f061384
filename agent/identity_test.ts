import assert from "node:assert/strict";
import { MemoryConsole } from "./console.ts";
import { IdentityHandler, LineSplitter } from "./identity.ts";
import type { NetworkStatus } from "./state.ts";
import { formatIdentity, type IdentityMessage } from "../src/shared/identity_line.ts";

function setup() {
  const console = new MemoryConsole();
  const applied: IdentityMessage[] = [];
  const net: NetworkStatus = {
    interface: "eth0",
    address: "10.9.0.2",
    prefix: 24,
    gateway: "10.9.0.1",
    dns: [],
    hostname: "template",
  };
  let key = "template-key-0123456789";
  let fail = false;
  const handler = new IdentityHandler({
    console,
    network: () => net,
    setAgentKey: (k) => key = k,
    apply: (m) => {
      if (fail) throw new Error("set eth0 down: EPERM");
      applied.push(m);
    },
  });
  return { console, applied, net, handler, key: () => key, failNext: () => fail = true };
}

const line = (nonce: string, ip = "10.9.0.7") =>
  formatIdentity({
    nonce,
    address: ip,
    prefix: 24,
    gateway: "10.9.0.1",
    mac: "02:00:00:00:00:07",
    hostname: "clone7",
    seed: new Uint8Array(32).fill(9),
    agentKey: "clone-key-abcdefghijklmnop",
  });

Deno.test("identity handler: applies once, re-acks a resend, refuses a replay and bad lines", async () => {
  const t = setup();
  await t.handler.line(line("aaaaaaaa"));
  assert.equal(t.applied.length, 1);
  assert.equal(t.key(), "clone-key-abcdefghijklmnop");
  assert.deepEqual([t.net.address, t.net.hostname], ["10.9.0.7", "clone7"]);
  assert.match(
    t.console.lines.at(-1)!,
    /identity: VOLANT_IDENTITY_OK aaaaaaaa eth0 10\.9\.0\.7\/24/,
  );

  // The host resends because it missed the ack: acknowledged again, not applied twice.
  await t.handler.line(line("aaaaaaaa"));
  assert.equal(t.applied.length, 1);
  assert.match(t.console.lines.at(-1)!, /VOLANT_IDENTITY_OK aaaaaaaa/);

  await t.handler.line(line("bbbbbbbb", "10.9.0.8"));
  assert.equal(t.applied.length, 2);
  // An older nonce replayed (e.g. the template's, which every clone remembers): refused.
  await t.handler.line(line("aaaaaaaa"));
  assert.equal(t.applied.length, 2);
  assert.match(t.console.lines.at(-1)!, /refused: nonce aaaaaaaa was used before \(replay\)/);
  assert.equal(t.net.address, "10.9.0.8");

  await t.handler.line(
    "volant-identity zz 1.2.3.4/24 1.2.3.1 02:00:00:00:00:01 h " + "0".repeat(64),
  );
  assert.match(t.console.lines.at(-1)!, /refused: nonce:/);
  const before = t.console.lines.length;
  await t.handler.line("ls -l /"); // someone typing on the console: ignored
  assert.equal(t.console.lines.length, before);
});

Deno.test("identity handler: a failed apply is reported, not acked, and may be retried", async () => {
  const t = setup();
  t.failNext();
  await t.handler.line(line("cccccccc"));
  assert.match(t.console.lines.at(-1)!, /identity: failed: set eth0 down: EPERM/);
  assert.equal(t.key(), "template-key-0123456789");
  assert.equal(t.handler.guard.check("cccccccc"), "apply");
});

Deno.test("line splitter: CR or LF ends a line, partial input waits, garbage is bounded", () => {
  const s = new LineSplitter(16);
  const enc = new TextEncoder();
  assert.deepEqual(s.push(enc.encode("\nvolant-id")), []);
  assert.deepEqual(s.push(enc.encode("entity x\r\n")), ["volant-identity x"]);
  assert.deepEqual(s.push(enc.encode("a".repeat(40))), []);
  assert.deepEqual(s.push(enc.encode("b\n")), ["b"]);
});
