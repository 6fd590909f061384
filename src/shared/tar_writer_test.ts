/**
 * The header writer against the shared reader and GNU tar: short and long
 * (pax) names and link targets, modes and sizes survive.
 */
import assert from "node:assert/strict";
import { encodeHeader, padded, TAR_END, type TarMember } from "./tar_writer.ts";
import { type TarHeader, TarReader } from "./tar_reader.ts";

function archive(members: TarMember[], data: Map<string, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    parts.push(encodeHeader(m));
    const d = data.get(m.path);
    if (d) parts.push(d, new Uint8Array(padded(d.length) - d.length));
  }
  parts.push(TAR_END);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

Deno.test("tar writer: what it writes, the reader and GNU tar read back", async () => {
  const long = `${"d".repeat(120)}/${"f".repeat(90)}`;
  const body = new TextEncoder().encode("hello tar\n");
  const members: TarMember[] = [
    { path: "top", type: "dir", mode: 0o750, size: 0, mtime: 1_700_000_000, linkname: "" },
    { path: `top/${long}`, type: "file", mode: 0o640, size: body.length, mtime: 1, linkname: "" },
    {
      path: "top/link",
      type: "symlink",
      mode: 0o777,
      size: 0,
      mtime: 1,
      linkname: "x".repeat(150),
    },
  ];
  const bytes = archive(members, new Map([[`top/${long}`, body]]));
  const seen: TarHeader[] = [];
  let text = "";
  const reader = new TarReader((h) => {
    seen.push(h);
    return { write: (c) => text += new TextDecoder().decode(c), end: () => {} };
  });
  reader.push(bytes);
  reader.end();
  assert.ok(reader.done);
  assert.deepEqual(seen.map((h) => [h.path, h.type, h.mode, h.size]), [
    ["top/", "dir", 0o750, 0],
    [`top/${long}`, "file", 0o640, body.length],
    ["top/link", "symlink", 0o777, 0],
  ]);
  assert.equal(seen[2].linkname, "x".repeat(150));
  assert.equal(text, "hello tar\n");

  const file = await Deno.makeTempFile({ suffix: ".tar" });
  try {
    await Deno.writeFile(file, bytes);
    const out = await new Deno.Command("tar", { args: ["-tvf", file], stdout: "piped" }).output();
    assert.ok(out.success, "GNU tar reads the archive");
    const listing = new TextDecoder().decode(out.stdout);
    assert.match(listing, new RegExp(`top/${long}`));
    assert.match(listing, /top\/link -> x{150}/);
  } finally {
    await Deno.remove(file);
  }
});
