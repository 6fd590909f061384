/**
 * fledge's archive path vs the classic shell pipeline, on the same ~20 MB tree, in one run:
 *
 *   ours:   walk + read (the [mappings] code) -> our newc writer -> gzip -9 (node:zlib) -> file
 *   theirs: cd tree && find . | sort | cpio -o -H newc | gzip -n -9 > file
 *
 * The tree is real files (Python's stdlib from /usr/lib/python3.11, sources and shared
 * objects) copied into a temp dir. Each side runs RUNS times, alternating; medians are
 * compared. Targets: time ratio <= 1.2, size ratio <= 1.0.
 *
 * Run: deno run -A bench/fledge_bench.ts
 *
 * @module
 */
import { join } from "node:path";
import { compress } from "../src/builder/compress.ts";
import { encodeCpio } from "../src/builder/cpio.ts";
import { applyMappings } from "../src/builder/mappings.ts";
import { ImageTree } from "../src/builder/tree.ts";

const SOURCE = "/usr/lib/python3.11";
const TARGET_BYTES = 20 * 1024 * 1024;
const RUNS = 3;

/** Copies regular files and dirs from `src` (sorted walk) until `budget` bytes are copied. */
function copyTree(src: string, dst: string, budget: { left: number }): void {
  Deno.mkdirSync(dst, { recursive: true });
  const names = [...Deno.readDirSync(src)].map((e) => e.name).sort();
  for (const name of names) {
    if (budget.left <= 0) return;
    const from = join(src, name);
    const info = Deno.lstatSync(from);
    if (info.isDirectory) copyTree(from, join(dst, name), budget);
    else if (info.isFile && info.size <= budget.left) {
      Deno.copyFileSync(from, join(dst, name));
      budget.left -= info.size;
    }
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function ours(tree: string, out: string): number {
  const t0 = performance.now();
  const image = new ImageTree();
  applyMappings(image, { [tree]: { to: "/" } }, "/");
  const archive = encodeCpio(image.toCpioInputs(), { mtime: 0 });
  Deno.writeFileSync(out, compress(archive, "gzip"));
  return performance.now() - t0;
}

async function theirs(tree: string, out: string): Promise<number> {
  const t0 = performance.now();
  const r = await new Deno.Command("sh", {
    args: ["-c", `find . | sort | cpio -o -H newc --quiet | gzip -n -9 > '${out}'`],
    cwd: tree,
    env: { LC_ALL: "C" },
  }).output();
  if (!r.success) throw new Error(`pipeline failed: ${new TextDecoder().decode(r.stderr)}`);
  return performance.now() - t0;
}

if (import.meta.main) {
  for (const tool of ["cpio", "gzip", "find", "sort"]) {
    const ok = await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`] }).output();
    if (!ok.success) throw new Error(`${tool} is missing: apt-get install -y cpio gzip findutils`);
  }
  const dir = Deno.makeTempDirSync({ prefix: "fledge-bench-" });
  try {
    const tree = join(dir, "tree");
    const budget = { left: TARGET_BYTES };
    copyTree(SOURCE, tree, budget);
    const bytes = TARGET_BYTES - budget.left;
    if (bytes < TARGET_BYTES * 0.9) {
      throw new Error(`${SOURCE} gave only ${bytes} bytes: apt-get install -y python3.11`);
    }
    const oursOut = join(dir, "ours.cpio.gz");
    const theirsOut = join(dir, "theirs.cpio.gz");
    const tOurs: number[] = [];
    const tTheirs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      tOurs.push(ours(tree, oursOut));
      tTheirs.push(await theirs(tree, theirsOut));
    }
    const sizeOurs = Deno.statSync(oursOut).size;
    const sizeTheirs = Deno.statSync(theirsOut).size;
    const mOurs = median(tOurs);
    const mTheirs = median(tTheirs);
    const timeRatio = mOurs / mTheirs;
    const sizeRatio = sizeOurs / sizeTheirs;
    console.log(`tree: ${bytes} bytes of files from ${SOURCE}`);
    console.log(
      `fledge (walk + cpio + gzip -9):      median ${
        mOurs.toFixed(0)
      } ms of ${RUNS}, ${sizeOurs} bytes`,
    );
    console.log(
      `find|sort|cpio -H newc|gzip -n -9:  median ${
        mTheirs.toFixed(0)
      } ms of ${RUNS}, ${sizeTheirs} bytes`,
    );
    console.log(`time ratio ${timeRatio.toFixed(3)} (target <= 1.2)`);
    console.log(`size ratio ${sizeRatio.toFixed(4)} (target <= 1.0)`);
    console.log(
      "BENCH_JSON " + JSON.stringify({
        bench: "fledge",
        tree_bytes: bytes,
        runs: RUNS,
        fledge_ms: Math.round(mOurs),
        pipeline_ms: Math.round(mTheirs),
        time_ratio: Number(timeRatio.toFixed(3)),
        fledge_bytes: sizeOurs,
        pipeline_bytes: sizeTheirs,
        size_ratio: Number(sizeRatio.toFixed(4)),
        time_ok: timeRatio <= 1.2,
        size_ok: sizeRatio <= 1.0,
      }),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
