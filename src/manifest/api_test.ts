import assert from "node:assert/strict";
import {
  CreateVmBodySchema,
  EventQuerySchema,
  InstallPluginBodySchema,
  VmConfigPatchSchema,
  VmListQuerySchema,
} from "./api.ts";
import { parseOrThrow } from "./validate.ts";
import { VolantError } from "../errors.ts";

Deno.test("install body needs exactly one source", () => {
  assert.equal(InstallPluginBodySchema.safeParse({ url: "https://x/m.json" }).success, true);
  const none = InstallPluginBodySchema.safeParse({});
  assert.equal(none.success, false);
  const two = InstallPluginBodySchema.safeParse({ url: "file:///a/m.json", path: "/a/m.json" });
  assert.equal(two.success, false);
  assert.match(JSON.stringify(two.error?.issues), /exactly one/);
  assert.equal(InstallPluginBodySchema.safeParse({ url: "ftp://x/m.json" }).success, false);
  assert.equal(InstallPluginBodySchema.safeParse({ path: "rel/m.json" }).success, false);
  const ok = InstallPluginBodySchema.parse({ path: "/srv/m.json" });
  assert.equal(ok.allow_unverified, false);
});

Deno.test("create VM body names the bad field", () => {
  const body = CreateVmBodySchema.parse({ name: "web-1", plugin: "caddy" });
  assert.equal(body.start, true);
  try {
    parseOrThrow(CreateVmBodySchema, { name: "Web_1", plugin: "caddy", cpu_cores: 0 }, "VM");
    assert.fail("should throw");
  } catch (e) {
    assert.ok(e instanceof VolantError);
    const fields = e.problems.map((p) => p.field).sort();
    assert.deepEqual(fields, ["cpu_cores", "name"]);
  }
});

Deno.test("list query coerces numbers and checks states", () => {
  const q = VmListQuerySchema.parse({ limit: "5", offset: "10", state: "running,stopped" });
  assert.equal(q.limit, 5);
  assert.equal(q.offset, 10);
  assert.equal(q.sort, "created_at");
  assert.equal(VmListQuerySchema.safeParse({ state: "running,bogus" }).success, false);
  assert.equal(VmListQuerySchema.safeParse({ limit: "-1" }).success, false);
});

Deno.test("config patch refuses plugin changes and accepts network", () => {
  assert.equal(VmConfigPatchSchema.safeParse({ plugin: "other" }).success, false);
  const p = VmConfigPatchSchema.parse({ network: { mode: "bridged" }, metadata: null });
  assert.deepEqual(p.network, { mode: "bridged" });
  assert.equal(p.metadata, null);
});

Deno.test("event query accepts families", () => {
  assert.equal(EventQuerySchema.safeParse({ type: "vm.*,plugin.installed" }).success, true);
  assert.equal(EventQuerySchema.safeParse({ type: "vm.nope" }).success, false);
});
