import assert from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import { signatureFields } from "./install_signature.ts";

Deno.test("--signature: a URL is passed on, a file is read (relative to cwd), a missing file is not_found", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = { kind: "file" as const, path: `${dir}/m.json` };
    assert.deepEqual(await signatureFields("https://x.example/m.json.minisig", file, false, dir), {
      signature_url: "https://x.example/m.json.minisig",
    });
    Deno.writeTextFileSync(`${dir}/s.minisig`, "SIG");
    assert.deepEqual(await signatureFields("s.minisig", file, false, dir), { signature: "SIG" });
    await assert.rejects(
      signatureFields("nope.minisig", file, false, dir),
      (e) => isVolantError(e, "not_found") && e.message.includes("--signature"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("default: volantd finds <manifest>.minisig itself, except for a remote daemon (--api)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = { kind: "file" as const, path: `${dir}/m.json` };
    assert.deepEqual(await signatureFields(undefined, file, true, dir), {}, "none beside it");
    Deno.writeTextFileSync(`${dir}/m.json.minisig`, "SIG");
    assert.deepEqual(await signatureFields(undefined, file, false, dir), {});
    assert.deepEqual(await signatureFields(undefined, file, true, dir), { signature: "SIG" });
    const url = { kind: "url" as const, url: "https://x.example/m.json" };
    assert.deepEqual(await signatureFields(undefined, url, true, dir), {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
