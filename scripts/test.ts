/**
 * The README's test command (`deno task test`): installs prerequisites (apt
 * packages, the cached guest kernel, the agent image), runs every test with
 * `deno test`, and ends with the line `N passed, N failed`.
 *
 * @module
 */
import { prepareHost } from "./journey/prepare.ts";

/** Extracts passed/failed counts from deno test's summary line. */
export function parseSummary(output: string): { passed: number; failed: number } | null {
  const lines = output.split("\n").filter((l) => /\d+ passed.*\d+ failed/.test(l));
  const last = lines.at(-1);
  if (!last) return null;
  const passed = Number(/(\d+) passed/.exec(last)?.[1] ?? NaN);
  const failed = Number(/(\d+) failed/.exec(last)?.[1] ?? NaN);
  return Number.isFinite(passed) && Number.isFinite(failed) ? { passed, failed } : null;
}

/** Runs `deno <args>`, echoing its stdout as it comes; returns that output and the exit status. */
export async function runEchoed(
  args: string[],
): Promise<{ text: string; status: Deno.CommandStatus }> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    text += decoder.decode(chunk, { stream: true });
    await Deno.stdout.write(chunk);
  }
  return { text, status: await child.status };
}

if (import.meta.main) {
  // Apt packages, the cached guest kernel and the agent image. A failure here is
  // reported and the tests still run: those needing the missing part fail saying so.
  try {
    await prepareHost();
  } catch (error) {
    console.error(
      `test: preparing the host failed: ${error instanceof Error ? error.message : error}`,
    );
  }
  const { text, status } = await runEchoed(["test", "-A", "--no-prompt", ...Deno.args]);
  // deno test colours its summary unless NO_COLOR is set: strip ANSI escapes.
  const summary = parseSummary(
    text.replace(new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"), ""),
  );
  if (!summary) {
    console.log("0 passed, 1 failed");
    Deno.exit(status.code || 1);
  }
  console.log(`${summary.passed} passed, ${summary.failed} failed`);
  Deno.exit(status.success && summary.failed === 0 ? 0 : 1);
}
