/**
 * The shim's hand-over ("workload first", shim/init.c): when the shim started
 * the workload before kestrel, it passes `VOLANT_SHIM="pid=<pid> fd=<n>
 * t=<ms> root=<0|1>"`: the workload's pid (a child of PID 1, so now ours), the
 * read end of its stdout+stderr pipe, when it started (CLOCK_BOOTTIME ms, the
 * clock of /proc/uptime) and whether the shim already switched root. `root=1`
 * alone means the shim switched root but left the workload to kestrel.
 *
 * @module
 */
import * as libc from "./_libc.ts";

export const SHIM_ENV = "VOLANT_SHIM";

export interface ShimHandoff {
  /** The workload's pid, when the shim started it. */
  pid?: number;
  /** Its output pipe's fd in this process. */
  fd?: number;
  /** Guest uptime (ms) when the shim started it. */
  startedUptimeMs?: number;
  /** The shim already switched root to the rootfs. */
  rootSwitched: boolean;
}

/** Parses the `VOLANT_SHIM` value; null for an absent or malformed one (nothing adopted). */
export function parseHandoff(value: string | undefined): ShimHandoff | null {
  if (!value) return null;
  const fields = new Map<string, number>();
  for (const part of value.trim().split(/\s+/)) {
    const m = /^([a-z]+)=(\d{1,15})$/.exec(part);
    if (!m) return null;
    fields.set(m[1], Number(m[2]));
  }
  const pid = fields.get("pid");
  const fd = fields.get("fd");
  if ((pid === undefined) !== (fd === undefined) || pid === 0 || pid === 1) return null;
  return { pid, fd, startedUptimeMs: fields.get("t"), rootSwitched: fields.get("root") === 1 };
}

/**
 * The workload's output as a stream: the inherited pipe re-opened through
 * /proc (Deno has no "from raw fd"), then the inherited fd closed so restarted
 * workloads do not inherit it.
 */
export function openInheritedPipe(fd: number): ReadableStream<Uint8Array> {
  const file = Deno.openSync(`/proc/self/fd/${fd}`, { read: true });
  libc.close(fd);
  return file.readable;
}

/** Guest uptime in ms (/proc/uptime), or undefined outside a Linux guest. */
export function uptimeMs(): number | undefined {
  try {
    return Math.round(Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]) * 1000);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}
