/**
 * The zod-free response check: response_schemas.json is what the zod schemas
 * generate today, uses only keywords json_schema.ts checks, and agrees with
 * zod on good and broken answers; a broken answer is an `upstream` error
 * naming the field. (< 1 s)
 */
import assert from "node:assert/strict";
import { vmRecord } from "../api/testing/stub_vms.ts";
import { isVolantError } from "../errors.ts";
import { checkResponse } from "./check.ts";
import { type JsonSchema, matches, unsupportedKeywords } from "./json_schema.ts";
import { RESPONSE_SCHEMAS_PATH } from "./response_schemas_gen.ts";
import { RESPONSE_ZOD, responseJsonSchemas } from "./zod_schemas.ts";

const checkedIn = JSON.parse(await Deno.readTextFile(RESPONSE_SCHEMAS_PATH)) as Record<
  string,
  JsonSchema
>;

Deno.test("response_schemas.json is generated from the zod schemas (run `deno task openapi`)", () => {
  assert.deepEqual(
    checkedIn,
    responseJsonSchemas(),
    "src/client/response_schemas.json is out of date: run `deno task openapi`",
  );
  assert.deepEqual(Object.keys(checkedIn).sort(), Object.keys(RESPONSE_ZOD).sort());
});

Deno.test("every keyword in response_schemas.json is one json_schema.ts checks", () => {
  for (const [name, schema] of Object.entries(checkedIn)) {
    assert.deepEqual(unsupportedKeywords(schema), [], `${name} uses keywords matches() ignores`);
  }
});

/** Good and broken answers; the JSON Schema and zod must agree on each. */
function cases(): { name: keyof typeof RESPONSE_ZOD; data: unknown; ok: boolean }[] {
  const vm = vmRecord({ name: "web", pid: 42, last_error: "boom" });
  const rows = [vm, vmRecord({ id: 2, name: "db", state: "stopped" })];
  const list = { items: rows, total: 2, limit: 100, offset: 0 };
  const event = {
    id: 3,
    type: "vm.future_kind", // any type string: a newer daemon's events pass
    resource_type: "vm",
    resource: "web",
    time: new Date().toISOString(),
    data: { n: 1 },
  };
  return [
    { name: "VmList", data: list, ok: true },
    { name: "VmList", data: { ...list, newer_field: [1] }, ok: true }, // unknown keys pass
    { name: "VmRecord", data: vm, ok: true },
    { name: "VmRecord", data: { ...vm, state: "flying" }, ok: false },
    { name: "VmRecord", data: { ...vm, cpu_cores: "2" }, ok: false },
    { name: "VmRecord", data: { ...vm, id: 1.5 }, ok: false },
    { name: "VmRecord", data: { ...vm, name: "Not A Label" }, ok: false },
    { name: "VmRecord", data: Object.fromEntries(Object.entries(vm).slice(1)), ok: false },
    { name: "VmList", data: { ...list, items: [{ ...vm, health: 7 }] }, ok: false },
    { name: "VmList", data: { ...list, total: null }, ok: false },
    { name: "VmList", data: [], ok: false },
    { name: "EventPage", data: { items: [event] }, ok: true },
    { name: "ClientEvent", data: { ...event, data: [] }, ok: false },
    { name: "ClientEvent", data: { ...event, id: 0 }, ok: false },
    { name: "PluginList", data: { items: [] }, ok: true },
    { name: "TrustedKeyList", data: { items: "none" }, ok: false },
  ];
}

Deno.test("the JSON Schema check agrees with zod on good and broken answers", () => {
  for (const c of cases()) {
    const label = `${c.name} ${JSON.stringify(c.data).slice(0, 120)}`;
    assert.equal(RESPONSE_ZOD[c.name].safeParse(c.data).success, c.ok, `zod: ${label}`);
    assert.equal(matches(checkedIn[c.name], c.data), c.ok, `json schema: ${label}`);
  }
});

Deno.test("checkResponse returns a good answer as sent and names the field of a bad one", async () => {
  const vm = vmRecord({ name: "web" });
  const list = { items: [vm], total: 1, limit: 100, offset: 0, extra: true };
  assert.equal(await checkResponse("VmList", list, "vm list"), list);
  await assert.rejects(
    checkResponse("VmList", { ...list, items: [{ ...vm, state: "flying" }] }, "vm list"),
    (e) =>
      isVolantError(e, "upstream") &&
      /^unexpected vm list from volantd: items\.0\.state: /.test(e.message),
  );
});

Deno.test("checkResponse still takes a zod schema (checked with zod)", async () => {
  const { VmRecordSchema } = await import("../manifest/api.ts");
  const vm = vmRecord({ name: "web" });
  assert.equal(await checkResponse(VmRecordSchema, vm, "vm"), vm);
  await assert.rejects(
    checkResponse(VmRecordSchema, { ...vm, mac: 5 }, "vm"),
    (e) => isVolantError(e, "upstream") && /: mac: /.test(e.message),
  );
});
