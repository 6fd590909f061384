/**
 * Setup as a plan of idempotent steps: each one checks (what differs, if
 * anything), acts, and verifies; when a step fails, the steps this run
 * changed are undone in reverse order. A dry run only checks and prints the
 * plan as numbered steps.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";

export interface Step {
  /** What the step makes true, e.g. "bridge vbr0 with 192.168.127.1/24, up". */
  title: string;
  /** null when already in place; otherwise what would change. */
  check(): Promise<string | null>;
  act(): Promise<void>;
  /** Throws when, after act, the step is still not in place. */
  verify(): Promise<void>;
  /** Reverts what act did in this run. */
  undo(): Promise<void>;
  /** A note printed when the step is in place or done (e.g. how to start the daemon). */
  note?(): string | undefined;
}

export interface PlanResult {
  changed: string[];
  unchanged: string[];
}

/** Runs the steps in order; on failure rolls back this run's changes and rethrows. */
export async function runPlan(
  steps: Step[],
  say: (line: string) => void,
  afterStep: () => Promise<void> = () => Promise.resolve(),
  idle = "in place",
): Promise<PlanResult> {
  const done: Step[] = [];
  const result: PlanResult = { changed: [], unchanged: [] };
  for (const [i, step] of steps.entries()) {
    const n = `[${i + 1}/${steps.length}]`;
    try {
      const need = await step.check();
      if (need === null) {
        result.unchanged.push(step.title);
        say(`${n} ${step.title}: ${idle}`);
      } else {
        await step.act();
        done.push(step);
        await step.verify();
        result.changed.push(step.title);
        say(`${n} ${step.title}: done (${need})`);
      }
      const note = step.note?.();
      if (note) say(`    ${note}`);
      await afterStep();
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      say(`${n} ${step.title}: failed: ${why}`);
      const undoFailures: string[] = [];
      for (const d of done.reverse()) {
        try {
          await d.undo();
          say(`    rolled back: ${d.title}`);
        } catch (u) {
          undoFailures.push(`${d.title}: ${u instanceof Error ? u.message : u}`);
        }
      }
      await afterStep();
      const tail = undoFailures.length ? `; rollback failed for ${undoFailures.join("; ")}` : "";
      throw new VolantError(
        error instanceof VolantError ? error.code : "internal",
        `step ${i + 1} (${step.title}) failed: ${why}${tail}`,
        { cause: error },
      );
    }
  }
  return result;
}

/** The plan as numbered lines, with what each step would change (checks only). */
export async function describePlan(steps: Step[]): Promise<string[]> {
  const lines: string[] = [];
  for (const [i, step] of steps.entries()) {
    let state: string;
    try {
      const need = await step.check();
      state = need === null ? "in place, nothing to do" : `would change: ${need}`;
    } catch (error) {
      state = `cannot check: ${error instanceof Error ? error.message : error}`;
    }
    lines.push(`${i + 1}. ${step.title}: ${state}`);
  }
  return lines;
}
