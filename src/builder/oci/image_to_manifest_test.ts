import assert from "node:assert/strict";
import { VolantError } from "../../errors.ts";
import type { ImageConfig } from "./image_manifest.ts";
import { manifestFromImage } from "./image_to_manifest.ts";

const image = {
  reference: "r/x:1",
  digest: "sha256:" + "b".repeat(64),
  repository: "org/x",
  tag: "1",
};
const rootfs = { url: "x-1.img", sha256: "c".repeat(64) };

Deno.test("image config -> manifest: entrypoint, env, workdir, user, port, labels", () => {
  const m = manifestFromImage({
    image,
    rootfs,
    config: {
      config: {
        Entrypoint: ["/docker-entrypoint.sh"],
        Cmd: ["nginx", "-g", "daemon off;"],
        Env: ["PATH=/usr/bin:/bin", "NGINX_VERSION=1.25", "bad-name=x"],
        WorkingDir: "/srv",
        User: "101:101",
        ExposedPorts: { "443/tcp": {}, "80/tcp": {}, "53/udp": {} },
        Labels: { maintainer: "me" },
      },
    },
  });
  assert.equal(m.name, "x");
  assert.equal(m.version, "1");
  assert.deepEqual(m.workload, {
    type: "http",
    entrypoint: ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"],
    base_url: "http://127.0.0.1:80",
    env: { NGINX_VERSION: "1.25", PATH: "/usr/bin:/bin" },
    workdir: "/srv",
    user: "101:101",
  });
  assert.deepEqual(m.rootfs, {
    url: "x-1.img",
    checksum: `sha256:${"c".repeat(64)}`,
    format: "raw",
  });
  assert.equal(m.image_digest, image.digest);
  assert.equal(m.labels?.maintainer, "me");
  assert.deepEqual(m.health_check, { endpoint: "/", timeout_ms: 10000 });
});

Deno.test("image config -> manifest: overrides win; missing pieces are named", () => {
  const m = manifestFromImage({
    image,
    rootfs,
    config: { config: { Cmd: ["/app"], ExposedPorts: { "8080/tcp": {}, "9000/tcp": {} } } },
    overrides: { name: "web", port: 7000, workload: { env: { A: "1" } }, labels: { k: "v" } },
  });
  assert.equal(m.name, "web");
  assert.equal(m.workload.base_url, "http://127.0.0.1:7000");
  assert.deepEqual(m.workload.env, { A: "1" });
  // 8080 is kestrel's: the other exposed port is picked.
  const n = manifestFromImage({
    image,
    rootfs,
    config: { config: { Cmd: ["/app"], ExposedPorts: { "8080/tcp": {}, "9000/tcp": {} } } },
  });
  assert.equal(n.workload.base_url, "http://127.0.0.1:9000");
  const cases: [ImageConfig, string][] = [
    [{ config: { ExposedPorts: { "80/tcp": {} } } }, "workload.entrypoint"],
    [{ config: { Cmd: ["/app"] } }, "workload.base_url"],
    [{ config: { Cmd: ["/app"], ExposedPorts: { "8080/tcp": {} } } }, "workload.base_url"],
  ];
  for (const [config, field] of cases) {
    assert.throws(() => manifestFromImage({ image, rootfs, config }), (e: unknown) => {
      assert.ok(e instanceof VolantError);
      assert.equal(e.problems[0].field, field);
      return true;
    });
  }
});
