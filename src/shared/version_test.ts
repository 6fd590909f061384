import assert from "node:assert/strict";
import { VERSION } from "./version.ts";
import { KESTREL_VERSION } from "../../agent/version.ts";
import { VERSION as HOST_VERSION } from "../version.ts";
import denoJson from "../../deno.json" with { type: "json" };

Deno.test("version: one string for deno.json, the personas and kestrel", () => {
  assert.match(VERSION, /^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/);
  assert.equal(denoJson.version, VERSION);
  assert.equal(HOST_VERSION, VERSION);
  assert.equal(KESTREL_VERSION, VERSION);
});
