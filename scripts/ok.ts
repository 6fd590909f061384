/**
 * `deno task ok`, the one gate: fmt check, lint, type check of every folder,
 * then the README's test command (`deno task test`). It always runs the tests,
 * even after a failed check, and ends with the line `N passed, N failed`
 * where each failed check counts as one failure, so a lint or type error fails
 * CI (.ci/run calls this) while CI keeps its summary line.
 *
 * Usage: deno task ok [deno test arguments, passed to `deno task test`]
 *
 * @module
 */
import { parseSummary, runEchoed } from "./test.ts";

/** One check: a name and the deno command line that runs it. */
export interface Check {
  name: string;
  cmd: string[];
}

/** The checks, in order: cheap first. */
export const CHECKS: Check[] = [
  { name: "fmt", cmd: [Deno.execPath(), "fmt", "--check"] },
  { name: "lint", cmd: [Deno.execPath(), "lint"] },
  {
    name: "type check",
    cmd: [Deno.execPath(), "check", "src/", "agent/", "tests/", "scripts/", "bench/"],
  },
];

/** How a check went: its output is kept to show when it failed. */
export interface CheckResult {
  name: string;
  ok: boolean;
  seconds: number;
  output: string;
}

async function runQuiet(cmd: string[]) {
  try {
    return await new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
  } catch (e) {
    // A tool that cannot start is a failed check, reported like one.
    if (!(e instanceof Error)) throw e;
    const stderr = new TextEncoder().encode(`cannot run ${cmd[0]}: ${e.message}`);
    return { success: false, stdout: new Uint8Array(), stderr };
  }
}

/** Runs the checks one after the other; never throws for a failing check. */
export async function runChecks(checks: Check[]): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const c of checks) {
    const start = performance.now();
    const out = await runQuiet(c.cmd);
    const output = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    results.push({
      name: c.name,
      ok: out.success,
      seconds: (performance.now() - start) / 1000,
      output,
    });
  }
  return results;
}

/** The final line: the tests' counts, with one failure added per failed check. */
export function finalSummary(
  tests: { passed: number; failed: number } | null,
  checks: CheckResult[],
): string {
  const failedChecks = checks.filter((c) => !c.ok).length;
  const t = tests ?? { passed: 0, failed: 1 };
  return `${t.passed} passed, ${t.failed + failedChecks} failed`;
}

if (import.meta.main) {
  const checks = await runChecks(CHECKS);
  for (const c of checks) {
    console.log(`ok: ${c.name} ${c.ok ? "passed" : "FAILED"} (${c.seconds.toFixed(1)} s)`);
    if (!c.ok) console.log(c.output.trimEnd().split("\n").slice(-60).join("\n"));
  }
  const tests = await runEchoed(["task", "test", ...Deno.args]);
  const summary = parseSummary(tests.text);
  const failedChecks = checks.filter((c) => !c.ok).map((c) => c.name);
  if (failedChecks.length > 0) {
    console.log(`ok: failed checks (one failure each): ${failedChecks.join(", ")}`);
  }
  console.log(finalSummary(summary, checks));
  Deno.exit(tests.status.success && summary !== null && failedChecks.length === 0 ? 0 : 1);
}
