/**
 * The RAM image helpers on plain files: format records (absent = 1, unknown
 * refused) and the sparse copy (same bytes, zero pages left as holes).
 */
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { VolantError } from "../../errors.ts";
import { checkImageSize, copySparse, FORMAT_FILE, readFormat, writeFormat } from "./ram_image.ts";

Deno.test("snapshot format: absent is 1 (RAM in the stream), 2 round-trips, unknown is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-ramimg-" });
  try {
    assertEquals(await readFormat(dir), { format: 1 });
    await writeFormat(dir, { format: 2, memory_mb: 256 });
    assertEquals(await readFormat(dir), { format: 2, memory_mb: 256 });
    await Deno.writeTextFile(`${dir}/${FORMAT_FILE}`, '{"format":3}');
    await rejects(readFormat(dir), (e) => e instanceof VolantError && /format 3/.test(e.message));
    await Deno.writeTextFile(`${dir}/${FORMAT_FILE}`, "{trunc");
    await rejects(
      readFormat(dir),
      (e) => e instanceof VolantError && e.code === "checksum_mismatch",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sparse copy: same bytes and size, untouched pages take no disk", async () => {
  const dir = await Deno.makeTempDir({ prefix: "volant-ramimg-" });
  try {
    const size = 8 << 20;
    const src = new Uint8Array(size);
    // A few written pages, one straddling a 1 MiB read chunk, and the very last byte.
    src.fill(7, 4096, 3 * 4096);
    src.fill(9, (1 << 20) - 100, (1 << 20) + 100);
    src[size - 1] = 1;
    await Deno.writeFile(`${dir}/src`, src);
    assertEquals(await copySparse(`${dir}/src`, `${dir}/dst`), size);
    assertEquals(await Deno.readFile(`${dir}/dst`), src);
    const st = await Deno.stat(`${dir}/dst`);
    ok(st.blocks! * 512 < size / 4, `holes kept: ${st.blocks! * 512} bytes allocated`);
    await checkImageSize(`${dir}/dst`, 8);
    await rejects(checkImageSize(`${dir}/dst`, 16), /not the guest's 16 MiB/);
    await rejects(copySparse(`${dir}/src`, `${dir}/dst`), Deno.errors.AlreadyExists);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
