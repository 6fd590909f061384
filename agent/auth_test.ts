import { deepStrictEqual as assertEquals, match } from "node:assert/strict";
import { agentGate } from "./auth.ts";

const get = (key?: string) =>
  new Request("http://kestrel:8080/healthz", key ? { headers: { "x-volant-agent-key": key } } : {});

Deno.test("gate with a key source: refuses all until the channel's hello brings the key", () => {
  const lines: string[] = [];
  let key: string | null | undefined = null;
  const gate = agentGate(() => key, (l) => lines.push(l));
  assertEquals(gate(get("guess"), "10.0.0.9:1")?.status, 401);
  match(lines[0], /no key from the host yet/);
  key = "k1";
  assertEquals(gate(get("k1"), "a local socket"), null);
  assertEquals(gate(get(), "10.0.0.9:2")?.status, 401);
  key = "k2"; // a new hello (restarted daemon) replaces it
  assertEquals(gate(get("k1"), "10.0.0.9:3")?.status, 401);
  assertEquals(gate(get("k2"), "a local socket"), null);
  key = undefined; // no key at all (booted by hand): open
  assertEquals(gate(get(), "10.0.0.9:4"), null);
});
