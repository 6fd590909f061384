/**
 * `--wait` for deployment commands: polls the deployment, prints a progress
 * line on stderr whenever the counts or a condition change, and ends when it
 * has converged (or is gone, for delete), when its rollout failed, or at the
 * timeout.
 *
 * @module
 */
import type { DeploymentClient } from "../client/deployments.ts";
import { VolantError } from "../errors.ts";
import type { DeploymentRecord } from "../manifest/deployment.ts";
import type { Io } from "./io.ts";

export interface WaitOptions {
  timeoutMs: number;
  /** Poll interval (default 500 ms). */
  intervalMs?: number;
  signal?: AbortSignal;
  /** Wait for the deployment to disappear (delete). */
  gone?: boolean;
}

/** One progress line: `web: 2/3 ready, 3 current, 3 updated (revision 2, progressing)`. */
export function progressLine(d: DeploymentRecord): string {
  return `${d.name}: ${d.ready}/${d.replicas} ready, ${d.current} current, ${d.updated} updated ` +
    `(revision ${d.revision}, ${d.rollout})`;
}

export function isDone(d: DeploymentRecord): boolean {
  return d.rollout === "complete" && d.ready === d.replicas && d.current === d.replicas &&
    d.updated === d.replicas;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

/** Waits; returns the final record (undefined once gone). Throws on failure or timeout. */
export async function waitForDeployment(
  client: DeploymentClient,
  name: string,
  io: Io,
  opts: WaitOptions,
): Promise<DeploymentRecord | undefined> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = "";
  let lastFailure = "";
  let d: DeploymentRecord | undefined;
  while (!opts.signal?.aborted) {
    try {
      d = await client.get(name);
    } catch (error) {
      if (opts.gone && error instanceof VolantError && error.code === "not_found") {
        io.err(`${name}: deleted`);
        return undefined;
      }
      throw error;
    }
    const line = progressLine(d);
    if (line !== last) io.err(line);
    last = line;
    const failure = d.conditions.find((c) => c.type === "ReplicaFailure" && c.status);
    const text = failure ? `${failure.reason}: ${failure.message}` : "";
    if (text && text !== lastFailure) io.err(`${name}: ${text}`);
    lastFailure = text;
    if (!opts.gone && d.rollout === "failed") {
      const why = d.conditions.find((c) => c.type === "RolloutFailed");
      throw new VolantError(
        "conflict",
        `rollout of ${name} revision ${d.revision} failed: ${why?.message ?? "replicas failed"}`,
      );
    }
    if (!opts.gone && isDone(d)) return d;
    if (Date.now() >= deadline) {
      throw new VolantError(
        "unavailable",
        `timed out after ${Math.round(opts.timeoutMs / 1000)} s waiting for ${
          opts.gone ? `${name} to be deleted` : name
        }: ${line}${text ? `; ${text}` : ""}`,
      );
    }
    await sleep(opts.intervalMs ?? 500, opts.signal);
  }
  throw new VolantError("unavailable", `stopped waiting for ${name}`);
}
