/**
 * Lifecycle operations as steps. Each step's act is idempotent (acting twice
 * leaves what acting once leaves: a TAP that exists is kept, a deleted one
 * stays deleted), so a retried or resumed operation (a delete finished after
 * a daemon restart) just runs its steps again. One rollback serves every
 * operation: undo, in reverse, every step that was begun (the failing one
 * included: it may have half-acted), and report what could not be undone.
 *
 * @module
 */

export interface Step {
  /** Names the step in rollback problems (`<name>: <error>`). */
  name: string;
  act(): Promise<void>;
  /** Idempotent undo; absent when the step leaves nothing to undo. */
  undo?(): Promise<void>;
}

/** Thrown by {@linkcode runSteps}: the step's error plus what the rollback could not undo. */
export class StepFailed extends Error {
  readonly step: string;
  readonly rollback: string[];
  constructor(step: string, cause: unknown, rollback: string[]) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "StepFailed";
    this.step = step;
    this.rollback = rollback;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Undoes `begun` steps in reverse; returns the problems (never throws). */
export async function rollback(begun: readonly Step[]): Promise<string[]> {
  const problems: string[] = [];
  for (const step of [...begun].reverse()) {
    if (!step.undo) continue;
    await step.undo().catch((e) => problems.push(`${step.name}: ${message(e)}`));
  }
  return problems;
}

/** Acts every step in order; on a failure rolls back the begun ones and throws StepFailed. */
export async function runSteps(steps: readonly Step[]): Promise<void> {
  const begun: Step[] = [];
  for (const step of steps) {
    begun.push(step);
    try {
      await step.act();
    } catch (error) {
      throw new StepFailed(step.name, error, await rollback(begun));
    }
  }
}
