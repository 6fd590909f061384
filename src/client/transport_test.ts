import assert from "node:assert/strict";
import { buildUrl, parseApiBase } from "./transport.ts";

Deno.test("buildUrl keeps an --api path prefix and drops undefined query values", () => {
  const base = parseApiBase("http://127.0.0.1:7777/volant");
  assert.equal(base, "http://127.0.0.1:7777/volant/");
  assert.equal(
    buildUrl(base, { path: "/api/v1/vms", query: { limit: 5, q: undefined, state: "a,b" } }),
    "http://127.0.0.1:7777/volant/api/v1/vms?limit=5&state=a%2Cb",
  );
  assert.equal(buildUrl("http://volantd/", { path: "/healthz" }), "http://volantd/healthz");
});

Deno.test("parseApiBase refuses what is not an http(s) URL", () => {
  assert.throws(() => parseApiBase("127.0.0.1:7777"), /http/);
  assert.throws(() => parseApiBase("ftp://x"), /http/);
});
