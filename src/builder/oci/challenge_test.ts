import assert from "node:assert/strict";
import { parseChallenge } from "./challenge.ts";

Deno.test("challenge: Docker Hub's bearer challenge and a basic one", () => {
  assert.deepEqual(
    parseChallenge(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
    ),
    {
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:library/nginx:pull",
      },
    },
  );
  assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), {
    scheme: "basic",
    params: { realm: "Registry Realm" },
  });
  assert.equal(parseChallenge(null), null);
});
