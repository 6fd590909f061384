import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { readNewc } from "./_cpio_read.ts";
import { archiveName, type CpioInput, encodeCpio } from "./cpio.ts";

const enc = new TextEncoder();

/** The tiny tree of the golden test: every entry kind the writer supports. */
export const TINY: CpioInput[] = [
  { type: "file", path: "/etc/b", mode: 0o644, data: enc.encode("same\n"), link: "L" },
  { type: "dir", path: "/", mode: 0o755 },
  { type: "dir", path: "/bin", mode: 0o755 },
  { type: "file", path: "/bin/hello", mode: 0o755, data: enc.encode("#!/bin/sh\necho hi\n") },
  { type: "symlink", path: "/bin/sh", target: "hello" },
  { type: "dir", path: "/dev", mode: 0o755 },
  { type: "char", path: "/dev/null", mode: 0o666, major: 1, minor: 3 },
  { type: "dir", path: "/etc", mode: 0o755 },
  { type: "file", path: "/etc/a", mode: 0o644, data: enc.encode("same\n"), link: "L" },
  { type: "dir", path: "/tmp", mode: 0o1777 },
];

/** Renders an archive as the readable lines of testdata/tiny.cpio.txt. */
function describe(bytes: Uint8Array): string {
  return readNewc(bytes).map((r) =>
    [
      `name=${JSON.stringify(r.name)}`,
      `ino=${r.ino}`,
      `mode=0${r.mode.toString(8)}`,
      `uid=${r.uid}`,
      `gid=${r.gid}`,
      `nlink=${r.nlink}`,
      `mtime=${r.mtime}`,
      `rdev=${r.rdevMajor},${r.rdevMinor}`,
      `data=${JSON.stringify(new TextDecoder().decode(r.data))}`,
    ].join(" ")
  ).join("\n") + "\n";
}

/** `xxd` format: offset, 8 groups of 2 bytes, the printable ASCII. */
function hexdump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const groups: string[] = [];
    for (let i = 0; i < row.length; i += 2) {
      groups.push([...row.subarray(i, i + 2)].map((b) => b.toString(16).padStart(2, "0")).join(""));
    }
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "."))
      .join("");
    lines.push(`${at.toString(16).padStart(8, "0")}: ${groups.join(" ").padEnd(39)}  ${ascii}`);
  }
  return lines.join("\n") + "\n";
}

const here = new URL(".", import.meta.url).pathname;
const golden = Deno.readTextFileSync(join(here, "testdata", "tiny.cpio.txt"));

Deno.test("cpio: golden bytes of the tiny tree (sorted, numbered, hardlink data once, trailer)", () => {
  const bytes = encodeCpio(TINY);
  const [header, ...lines] = golden.split("\n");
  // First line pins the exact bytes; the rest is the readable description.
  assertEquals(
    `sha256=${createHash("sha256").update(bytes).digest("hex")} size=${bytes.length}`,
    header,
  );
  assertEquals(describe(bytes), lines.join("\n"));
  // The same bytes as a hex dump (`xxd` output), to read a diff byte by byte.
  assertEquals(hexdump(bytes), Deno.readTextFileSync(join(here, "testdata", "tiny.cpio.hex")));
  // The first header, byte for byte: magic, ino 1, mode 040755, uid, gid, nlink 2, mtime 0...
  assertEquals(
    new TextDecoder().decode(bytes.subarray(0, 110)),
    "070701" + "00000001" + "000041ED" + "00000000" + "00000000" + "00000002" + "00000000" +
      "00000000" + "00000000" + "00000000" + "00000000" + "00000000" + "00000002" + "00000000",
  );
  assertEquals(bytes.length % 4, 0);
});

Deno.test("cpio: mtime applies to every entry but the trailer; input order does not matter", () => {
  const a = encodeCpio(TINY, { mtime: 1_700_000_000 });
  const b = encodeCpio([...TINY].reverse(), { mtime: 1_700_000_000 });
  assertEquals(a, b);
  const records = readNewc(a);
  for (const r of records.slice(0, -1)) assertEquals(r.mtime, 1_700_000_000);
  assertEquals(records.at(-1)!.name, "TRAILER!!!");
});

Deno.test("cpio: names lose '/' and './'; duplicates and bad mtimes are errors", () => {
  assertEquals(archiveName("/"), ".");
  assertEquals(archiveName("./bin/sh"), "bin/sh");
  assertEquals(archiveName("/usr/bin/"), "usr/bin");
  assertThrows(
    () =>
      encodeCpio([
        { type: "dir", path: "/a", mode: 0o755 },
        { type: "dir", path: "a", mode: 0o755 },
      ]),
    /duplicate entry a/,
  );
  assertThrows(() => encodeCpio(TINY, { mtime: 2 ** 32 }), /does not fit in 32 bits/);
});

/** Runs a command; fails with the install hint when the tool is missing. */
async function run(cmd: string, args: string[], opts: { cwd?: string; stdin?: Uint8Array } = {}) {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      cwd: opts.cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`${cmd} is missing: apt-get install -y cpio`);
    }
    throw error;
  }
  const w = child.stdin.getWriter();
  await w.write(opts.stdin ?? new Uint8Array());
  await w.close();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

Deno.test("cpio: GNU cpio lists and extracts the archive to the same tree and modes", async () => {
  const bytes = encodeCpio(TINY, { mtime: 1_600_000_000 });
  const listing = await run("cpio", ["-itv", "--quiet"], { stdin: bytes });
  const rows = listing.trim().split("\n").map((l) => l.split(/\s+/));
  // A symlink row ends "name -> target".
  const nameOf = (r: string[]) => (r.at(-2) === "->" ? r.at(-3)! : r.at(-1)!);
  const byName = new Map(rows.map((r) => [nameOf(r), r]));
  assertEquals([...byName.keys()], [
    ".",
    "bin",
    "bin/hello",
    "bin/sh",
    "dev",
    "dev/null",
    "etc",
    "etc/a",
    "etc/b",
    "tmp",
  ]);
  assertEquals(byName.get("dev/null")![0], "crw-rw-rw-");
  assertEquals(byName.get("dev/null")!.slice(4, 6).join(" "), "1, 3");
  assertEquals(byName.get("tmp")![0], "drwxrwxrwt");
  assertEquals(byName.get("etc/a")![1], "2"); // nlink of the hardlink pair
  assertEquals(byName.get("bin/sh")![0], "lrwxrwxrwx");

  const dir = Deno.makeTempDirSync({ prefix: "fledge-cpio-" });
  try {
    // Device nodes are checked in the listing above; extraction skips them (no mknod).
    await run("cpio", ["-idm", "--quiet", "--no-absolute-filenames", "--nonmatching", "dev/*"], {
      cwd: dir,
      stdin: bytes,
    });
    const st = (p: string) => Deno.lstatSync(join(dir, p));
    assertEquals(st("bin").mode! & 0o7777, 0o755);
    assertEquals(st("tmp").mode! & 0o7777, 0o1777);
    assertEquals(st("bin/hello").mode! & 0o7777, 0o755);
    assertEquals(Deno.readTextFileSync(join(dir, "bin/hello")), "#!/bin/sh\necho hi\n");
    assertEquals(st("bin/hello").mtime!.getTime(), 1_600_000_000_000);
    assertEquals(Deno.readLinkSync(join(dir, "bin/sh")), "hello");
    assertEquals(st("etc/a").mode! & 0o7777, 0o644);
    assertEquals(Deno.readTextFileSync(join(dir, "etc/a")), "same\n");
    assertEquals(Deno.readTextFileSync(join(dir, "etc/b")), "same\n");
    assertEquals(st("etc/a").ino, st("etc/b").ino); // still one inode
    assertEquals(st("etc/a").nlink, 2);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
