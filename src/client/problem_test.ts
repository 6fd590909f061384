import assert from "node:assert/strict";
import { errorFromProblem, errorFromResponse } from "./problem.ts";

Deno.test("problem+json: code, detail and field problems (errors or problems) are kept", () => {
  const e = errorFromProblem(400, {
    type: "urn:volant:problem:invalid_input",
    title: "Invalid input",
    status: 400,
    detail: "invalid body",
    code: "invalid_input",
    errors: [{ field: "name", message: "must be a DNS label" }],
    instance: "/api/v1/vms",
  });
  assert.equal(e.code, "invalid_input");
  assert.equal(e.message, "invalid body");
  assert.deepEqual(e.problems, [{ field: "name", message: "must be a DNS label" }]);
  assert.equal(e.details.instance, "/api/v1/vms");
  const p = errorFromProblem(409, { detail: "x", problems: [{ field: "a", message: "b" }] });
  assert.equal(p.code, "conflict");
  assert.deepEqual(p.problems, [{ field: "a", message: "b" }]);
});

Deno.test("problem+json: an unknown code falls back to the status", () => {
  assert.equal(errorFromProblem(404, { code: "weird", detail: "gone" }).code, "not_found");
  assert.equal(errorFromProblem(503, {}).code, "unavailable");
  assert.equal(errorFromProblem(418, {}).message, "HTTP 418");
});

Deno.test("non-JSON error bodies become one line; 401 adds the token hint", async () => {
  const e = await errorFromResponse(new Response("boom\nstack", { status: 502 }), "unix:/s");
  assert.equal(e.code, "upstream");
  assert.equal(e.message, "boom");
  const u = await errorFromResponse(
    new Response(JSON.stringify({ detail: "missing bearer token", code: "unauthorized" }), {
      status: 401,
      headers: { "content-type": "application/problem+json" },
    }),
    "http://h:1/",
  );
  assert.equal(u.code, "unauthorized");
  assert.equal(u.message, "missing bearer token (pass --token or VOLANT_TOKEN for http://h:1/)");
});
