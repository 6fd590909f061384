import assert from "node:assert/strict";
import { VolantError } from "../../errors.ts";
import { formatReference, parseReference } from "./reference.ts";

Deno.test("reference: Docker Hub defaults, registries, tags and digests", () => {
  assert.deepEqual(parseReference("nginx"), {
    kind: "registry",
    registry: "registry-1.docker.io",
    repository: "library/nginx",
    tag: "latest",
    digest: undefined,
  });
  assert.deepEqual(parseReference("docker://user/app:1.2"), {
    kind: "registry",
    registry: "registry-1.docker.io",
    repository: "user/app",
    tag: "1.2",
    digest: undefined,
  });
  const d = "sha256:" + "a".repeat(64);
  assert.deepEqual(parseReference(`ghcr.io/org/app@${d}`), {
    kind: "registry",
    registry: "ghcr.io",
    repository: "org/app",
    tag: undefined,
    digest: d,
  });
  assert.deepEqual(parseReference("localhost:5000/a/b:v1"), {
    kind: "registry",
    registry: "localhost:5000",
    repository: "a/b",
    tag: "v1",
    digest: undefined,
  });
  assert.equal(formatReference(parseReference("127.0.0.1:5000/x:y")), "127.0.0.1:5000/x:y");
});

Deno.test("reference: layouts and archives", () => {
  assert.deepEqual(parseReference("oci:./img:v1"), { kind: "oci", dir: "./img", tag: "v1" });
  assert.deepEqual(parseReference("oci:/a:b/dir"), {
    kind: "oci",
    dir: "/a:b/dir",
    tag: undefined,
  });
  assert.deepEqual(parseReference("docker-archive:/x.tar"), {
    kind: "docker-archive",
    file: "/x.tar",
  });
});

Deno.test("reference: bad input names the field and the rule", () => {
  for (const bad of ["", "UPPER/case", "a//b", "x@sha256:abc", "x:bad tag", "oci:", "a:b:c"]) {
    assert.throws(() => parseReference(bad, "source.image"), (e: unknown) => {
      assert.ok(e instanceof VolantError);
      assert.equal(e.problems[0].field, "source.image");
      return true;
    }, bad);
  }
});
