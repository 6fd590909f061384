/**
 * What a doctor check is, and the runner. A check reads the host (and at most
 * makes throwaway things of its own, such as a network namespace that dies with
 * its process) and answers ok / warn / fail with a detail and what to do.
 * `critical` marks checks a VM cannot boot without: a failing one makes
 * `volar doctor` exit non-zero. To add a row, write a Check and add it to
 * DEFAULT_CHECKS in mod.ts.
 *
 * @module
 */
import type { ResolvedConfig } from "../config/mod.ts";
import type { SystemInfo } from "../manifest/api.ts";

export type CheckStatus = "ok" | "warn" | "fail";

/** One check's answer. */
export interface CheckResult {
  status: CheckStatus;
  /** What was found, one line. */
  detail: string;
  /** What to do about a warn or fail, one line. */
  fix?: string;
}

/** What every check may look at. */
export interface DoctorContext {
  /** volantd's configuration as it would resolve here (config file, VOLANT_* env, defaults). */
  config: ResolvedConfig;
  /** The API socket volar talks to. */
  socket: string;
  /** Effective uid of this process (null where there is none). */
  uid: number | null;
  /** volar's own version, compared with the daemon's. */
  version: string;
  /** The daemon's system info; rejects when volantd cannot be reached. */
  daemonInfo(): Promise<SystemInfo>;
}

/** One row of the doctor's table. */
export interface Check {
  /** Stable id, the key in `-o json` (`tun`, `accel`, ...). */
  id: string;
  /** Column "check". */
  title: string;
  /** A fail here means no VM can boot: the doctor exits non-zero. */
  critical: boolean | ((ctx: DoctorContext) => boolean);
  run(ctx: DoctorContext): Promise<CheckResult>;
}

/** A check's row as printed. */
export interface CheckReport extends CheckResult {
  id: string;
  title: string;
  critical: boolean;
  ms: number;
}

/** Runs every check concurrently (rows keep their order); a check that throws is a fail row. */
export function runChecks(checks: readonly Check[], ctx: DoctorContext): Promise<CheckReport[]> {
  return Promise.all(checks.map(async (c) => {
    const start = performance.now();
    let result: CheckResult;
    try {
      result = await c.run(ctx);
    } catch (error) {
      result = {
        status: "fail",
        detail: `the check itself failed: ${error instanceof Error ? error.message : error}`,
      };
    }
    const critical = typeof c.critical === "function" ? c.critical(ctx) : c.critical;
    return {
      id: c.id,
      title: c.title,
      critical,
      ...result,
      ms: Math.round(performance.now() - start),
    };
  }));
}

/** True when a check a VM needs failed. */
export function bootBlocked(reports: readonly CheckReport[]): boolean {
  return reports.some((r) => r.critical && r.status === "fail");
}

/** Runs a command, never throwing for a missing binary: code 127 and the reason instead. */
export async function runCommand(
  cmd: string,
  args: string[],
  timeoutMs = 10_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { code: 127, stdout: "", stderr: `${cmd}: not found` };
    }
    throw error;
  }
}

/** The first non-empty line of a command's output, trimmed. */
export function firstLine(text: string): string {
  return text.split("\n").map((l) => l.trim()).find((l) => l.length > 0) ?? "";
}
