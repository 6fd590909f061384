/**
 * `deno task bench [name...]`: runs every bench/<area>_bench.ts (or the named
 * ones) one after another, so they do not compete for the 2 cores, and ends
 * with one report gathering each benchmark's `BENCH_JSON {...}` line.
 *
 * @module
 */
import { REPO } from "./_repo.ts";

/** The benchmark files, sorted, optionally filtered by area names. */
export async function benchFiles(only: string[] = []): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(`${REPO}/bench`)) {
    if (e.isFile && e.name.endsWith("_bench.ts")) files.push(e.name);
  }
  const area = (f: string) => f.replace(/_bench\.ts$/, "");
  return files.sort().filter((f) => only.length === 0 || only.includes(area(f)));
}

/** The last `BENCH_JSON {...}` line of a benchmark's output, parsed. */
export function benchJson(output: string): unknown | null {
  const line = output.split("\n").filter((l) => l.startsWith("BENCH_JSON ")).at(-1);
  return line ? JSON.parse(line.slice("BENCH_JSON ".length)) : null;
}

if (import.meta.main) {
  const files = await benchFiles(Deno.args);
  const report: Record<string, unknown> = {};
  let failed = 0;
  for (const file of files) {
    console.log(`\n=== ${file}`);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${REPO}/bench/${file}`],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let text = "";
    const dec = new TextDecoder();
    for await (const chunk of child.stdout) {
      text += dec.decode(chunk, { stream: true });
      await Deno.stdout.write(chunk);
    }
    const status = await child.status;
    const json = benchJson(text);
    if (!status.success || json === null) {
      failed++;
      report[file] = { error: `exit ${status.code}${json === null ? ", no BENCH_JSON line" : ""}` };
    } else {
      report[file] = json;
    }
  }
  console.log("\n=== report");
  console.log(JSON.stringify(report, null, 2));
  Deno.exit(failed === 0 ? 0 : 1);
}
