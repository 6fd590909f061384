import assert from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import { parseFledgeConfig } from "../manifest/fledge.ts";
import { formatOf, fromVolantV1, nameFromDir } from "./volant_v1.ts";

const build = { forBuild: true };

Deno.test("format: [plugin] means ours, anything else Volant's v1", () => {
  assert.equal(formatOf({ version: "1", plugin: { name: "a" } }), "volant-ts");
  assert.equal(formatOf({ version: "1", strategy: "initramfs" }), "volant-v1");
});

Deno.test("v1 default mode: release needs --agent; a path, a URL+sha or none", () => {
  const cfg = { version: "1", strategy: "initramfs", agent: { source_strategy: "release" } };
  assert.throws(
    () => fromVolantV1(cfg, undefined, "/x/My App", build),
    (e) => isVolantError(e, "invalid_input") && /--agent none/.test(e.message),
  );
  // validate (not build) accepts it as it is.
  assert.equal(fromVolantV1(cfg, undefined, "/x/app", { forBuild: false }).agent, undefined);
  const local = fromVolantV1(cfg, undefined, "/x/app", { ...build, agent: "./kestrel" });
  assert.deepEqual(local.agent, { source_strategy: "local", path: "./kestrel" });
  assert.throws(
    () => fromVolantV1(cfg, undefined, "/x/app", { ...build, agent: "https://h/k" }),
    (e) => isVolantError(e, "usage") && /--agent-sha256/.test(e.message),
  );
  const none = fromVolantV1(cfg, undefined, "/x/app", { ...build, agent: "none" });
  assert.equal(none.agent, undefined);
  const c = parseFledgeConfig(none);
  assert.equal(c.plugin.name, "app");
  assert.deepEqual(c.workload.entrypoint, ["/bin/httpd", "-f", "-p", "80", "-h", "/"]);
});

Deno.test("v1 [init]: a mapped path is our custom init, a host file becomes /init", () => {
  const base = { version: "1", strategy: "initramfs" };
  const mapped = fromVolantV1(
    { ...base, init: { path: "/sbin/i" }, mappings: { "./i": "/sbin/i" } },
    undefined,
    "/d",
    build,
  );
  assert.deepEqual(mapped.init, { path: "/sbin/i" });
  const host = fromVolantV1({ ...base, init: { path: "./my-init" } }, undefined, "/d", build);
  assert.deepEqual(host.init, { none: true });
  assert.deepEqual(host.mappings, { "./my-init": "/init" });
  assert.throws(
    () =>
      fromVolantV1(
        { ...base, init: { none: true }, agent: { source_strategy: "release" } },
        undefined,
        "/d",
        build,
      ),
    (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "agent",
  );
  // --no-init on a default-mode file drops its [agent] (Volant had no such flag to conflict).
  const flagged = fromVolantV1(
    { ...base, agent: { source_strategy: "release" } },
    undefined,
    "/d",
    { ...build, noInit: true },
  );
  assert.deepEqual(flagged.init, { none: true });
  assert.equal(flagged.agent, undefined);
});

Deno.test("v1 manifest.toml: name, resources, entrypoint + args, env, first tcp port", () => {
  const out = fromVolantV1(
    {
      version: "1",
      strategy: "initramfs",
      agent: { source_strategy: "release" },
      mappings: { "build/bin/": "/opt/app/bin/" },
    },
    {
      schema_version: "v1",
      name: "web",
      version: "1.2.3",
      runtime: "web",
      resources: { cpu_cores: 2, memory_mb: 512 },
      workload: { entrypoint: "/opt/app/bin/web", args: ["-v"] },
      env: { A: "1" },
      network: { mode: "bridged", expose: [{ port: 53, protocol: "udp" }, { port: 8080 }] },
    },
    "/d",
    { ...build, agent: "none" },
  );
  const c = parseFledgeConfig(out);
  assert.deepEqual(c.plugin, { name: "web", version: "1.2.3" });
  assert.deepEqual(c.resources, { cpu_cores: 2, memory_mb: 512 });
  assert.deepEqual(c.workload.entrypoint, ["/opt/app/bin/web", "-v"]);
  assert.equal(c.workload.base_url, "http://127.0.0.1:8080");
  assert.deepEqual(c.workload.env, { A: "1" });
  assert.deepEqual(Object.keys(c.mappings!), ["build/bin/"]);
  assert.equal((c.mappings!["build/bin/"] as { to: string }).to, "/opt/app/bin");
  assert.throws(
    () => fromVolantV1({ version: "1", strategy: "initramfs" }, { devices: {} }, "/d", build),
    (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "manifest.toml.devices",
  );
});

Deno.test("names from directories are DNS labels", () => {
  assert.equal(nameFromDir("/src/My_App 2"), "my-app-2");
  assert.equal(nameFromDir("/"), "plugin");
});
