import assert from "node:assert/strict";
import { VolantError } from "../../errors.ts";
import { findCredentials } from "./credentials.ts";

function env(vars: Record<string, string>): Deno.Env {
  return {
    get: (k: string) => vars[k],
    set() {},
    delete() {},
    has: (k: string) => k in vars,
    toObject: () => vars,
  };
}

Deno.test("credentials: flag, then env, then docker config; none is anonymous", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(
      `${dir}/config.json`,
      JSON.stringify({
        auths: {
          "https://index.docker.io/v1/": { auth: btoa("hub:pw:with:colons") },
          "ghcr.io": { username: "gh", password: "tok" },
        },
      }),
    );
    const e = env({ DOCKER_CONFIG: dir });
    assert.deepEqual(findCredentials("ghcr.io", "u:p", e), {
      username: "u",
      password: "p",
      from: "--registry-auth",
    });
    assert.equal(
      findCredentials(
        "ghcr.io",
        undefined,
        env({ FLEDGE_REGISTRY_AUTH: "a:b", DOCKER_CONFIG: dir }),
      )
        ?.from,
      "FLEDGE_REGISTRY_AUTH",
    );
    assert.equal(findCredentials("registry-1.docker.io", undefined, e)?.password, "pw:with:colons");
    assert.equal(findCredentials("ghcr.io", undefined, e)?.username, "gh");
    assert.equal(findCredentials("quay.io", undefined, e), undefined);
    assert.throws(() => findCredentials("x", "nocolon", e), VolantError);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
