import { strictEqual as assertEquals } from "node:assert/strict";
import { exists, existsSync } from "./fs.ts";

Deno.test("exists: files, dangling links with and without following, missing paths", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-exists-" });
  try {
    await Deno.writeTextFile(`${dir}/f`, "x");
    await Deno.symlink(`${dir}/gone`, `${dir}/dangling`);
    assertEquals(await exists(`${dir}/f`), true);
    assertEquals(existsSync(`${dir}/f`), true);
    assertEquals(await exists(`${dir}/missing`), false);
    assertEquals(existsSync(`${dir}/missing`), false);
    assertEquals(await exists(`${dir}/dangling`), false);
    assertEquals(await exists(`${dir}/dangling`, { followLinks: false }), true);
    assertEquals(existsSync(`${dir}/dangling`, { followLinks: false }), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
