import assert from "node:assert/strict";
import { apiFixture, TEST_TOKEN } from "../testing/fixtures.ts";
import { bearerToken, checkAuth, timingSafeEqual } from "./auth.ts";
import { isVolantError } from "../../errors.ts";

Deno.test("timingSafeEqual compares content and length", () => {
  assert.equal(timingSafeEqual("abc", "abc"), true);
  assert.equal(timingSafeEqual("abc", "abd"), false);
  assert.equal(timingSafeEqual("abc", "abcd"), false);
  assert.equal(timingSafeEqual("", "a"), false);
  assert.equal(timingSafeEqual("", ""), true);
});

Deno.test("bearerToken parses only the Bearer scheme", () => {
  assert.equal(bearerToken("Bearer xyz"), "xyz");
  assert.equal(bearerToken("bearer  xyz "), "xyz");
  assert.equal(bearerToken("Basic xyz"), undefined);
  assert.equal(bearerToken(undefined), undefined);
});

Deno.test("checkAuth: unix is trusted, TCP without a configured token is refused", () => {
  checkAuth({}, "unix", undefined);
  assert.throws(() => checkAuth({}, "tcp", "Bearer x"), (e) => isVolantError(e, "unauthorized"));
  assert.throws(() => checkAuth({ token: "t" }, undefined, undefined), (e) => isVolantError(e));
});

Deno.test("TCP: missing or wrong token is 401 problem+json, the right one passes", async () => {
  const f = await apiFixture();
  try {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: TEST_TOKEN },
    ];
    for (const headers of attempts) {
      const res = await f.tcp("/api/v1/plugins", { headers });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
      const body = await res.json();
      assert.equal(body.status, 401);
      assert.equal(body.code, "unauthorized");
    }
    // The token in the query string is not accepted (it would end up in logs).
    const q = await f.tcp(`/api/v1/plugins?token=${TEST_TOKEN}`);
    assert.equal(q.status, 401);
    await q.body?.cancel();
    const ok = await f.tcp("/api/v1/plugins", {
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
    });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { items: [] });
    // Even /healthz needs the token on TCP.
    const h = await f.tcp("/healthz");
    assert.equal(h.status, 401);
    await h.body?.cancel();
    // The unix socket needs nothing.
    const u = await f.unix("/healthz");
    assert.deepEqual(await u.json(), { status: "ok" });
  } finally {
    await f.close();
  }
});
