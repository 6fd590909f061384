import {
  deepStrictEqual as assertEquals,
  ok as assert,
  rejects as assertRejects,
} from "node:assert/strict";
import { base64UrlBytes, fastDecode, loadManifest } from "./manifest_load.ts";
import { encodeManifest } from "../src/manifest/cmdline.ts";
import type { PluginManifest } from "../src/manifest/plugin.ts";
import { sampleManifest } from "./testdata/manifests.ts";
import { VolantError } from "../src/errors.ts";

async function message(value: string | undefined): Promise<string> {
  try {
    await loadManifest(value);
  } catch (e) {
    assert(e instanceof VolantError);
    assertEquals(e.code, "invalid_input");
    assert(!e.message.includes("\n"), "the console gets one line");
    return e.message;
  }
  throw new Error("did not throw");
}

Deno.test("manifest: encoded value decodes and normalises", async () => {
  const m = await loadManifest(await encodeManifest(sampleManifest));
  assertEquals(m.name, "web");
  assertEquals(m.runtime, "web");
  assertEquals(m.workload.entrypoint, ["httpd", "-f"]);
});

Deno.test("manifest: raw JSON is accepted too", async () => {
  const m = await loadManifest(JSON.stringify(sampleManifest));
  assertEquals(m.version, "1.0.0");
});

Deno.test("manifest: missing, undecodable and invalid values give one clear line", async () => {
  assertEquals(await message(undefined), "volant.manifest is missing from the kernel command line");
  assertEquals(await message(""), "volant.manifest is missing from the kernel command line");
  assert((await message("%%%")).includes("neither base64url nor JSON"));
  assert((await message("{not json")).startsWith("volant.manifest is not valid JSON"));
  const bad = { ...sampleManifest, workload: { ...sampleManifest.workload, entrypoint: [] } };
  const text = await message(await encodeManifest(bad as PluginManifest));
  assert(text.includes("workload.entrypoint"), text);
  await assertRejects(() => loadManifest("H4sIAAAA"), VolantError);
});

Deno.test("manifest: the fast path decodes exactly what encodeManifest writes", async () => {
  const value = await encodeManifest(sampleManifest);
  assertEquals(JSON.parse(fastDecode(value)!), JSON.parse(JSON.stringify(sampleManifest)));
  assertEquals(fastDecode(value + "=="), fastDecode(value), "padding is accepted");
  assertEquals(fastDecode(JSON.stringify(sampleManifest)), null, "raw JSON takes the shared path");
  assertEquals(fastDecode(btoa(JSON.stringify(sampleManifest))), null, "plain base64 too");
  assertEquals(fastDecode("H4sIAAAA"), null, "corrupt gzip falls back (for its error message)");
});

Deno.test("base64UrlBytes agrees with atob for every length and both alphabets", () => {
  for (let n = 0; n < 70; n++) {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    const std = btoa(String.fromCharCode(...bytes));
    const url = std.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const expected = n === 0 ? null : bytes;
    assertEquals(base64UrlBytes(std), expected, `padded standard, ${n} bytes`);
    assertEquals(base64UrlBytes(url), expected, `unpadded url, ${n} bytes`);
  }
  assertEquals(base64UrlBytes("ab$d"), null);
  assertEquals(base64UrlBytes("abcde"), null, "a length of 4k+1 is not base64");
  assertEquals(base64UrlBytes("{}"), null);
});

Deno.test("the fast path keeps non-ASCII text intact", async () => {
  const m = { ...sampleManifest, labels: { owner: "Zoë – ünïcode ✓" } } as PluginManifest;
  assertEquals(JSON.parse(fastDecode(await encodeManifest(m))!).labels.owner, "Zoë – ünïcode ✓");
});
