import assert from "node:assert/strict";
import { ensureToken, tokenPath } from "./token.ts";
import { isVolantError } from "../errors.ts";

Deno.test("ensureToken creates a 0600 token once and reuses it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await ensureToken(dir);
    assert.equal(a.created, true);
    assert.equal(a.path, tokenPath(dir));
    assert.match(a.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal((await Deno.stat(a.path)).mode! & 0o777, 0o600);
    const b = await ensureToken(dir);
    assert.equal(b.created, false);
    assert.equal(b.token, a.token);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ensureToken tightens a readable token file and refuses a malformed one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = tokenPath(dir);
    await Deno.writeTextFile(path, "a".repeat(40) + "\n", { mode: 0o644 });
    await Deno.chmod(path, 0o644);
    const warnings: string[] = [];
    const t = await ensureToken(dir, (msg) => warnings.push(msg));
    assert.equal(t.token, "a".repeat(40));
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal(warnings.length, 1);
    await Deno.writeTextFile(path, "short");
    await assert.rejects(ensureToken(dir), (e) => isVolantError(e, "invalid_input"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
