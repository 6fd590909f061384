/**
 * Starts a VMM detached: its own session (so a daemon restart or crash does not
 * take it down), stdin from /dev/null, stdout+stderr appended to a log file
 * through `sh -c 'exec ...'` (the shell replaces itself, so the pid we record
 * is the VMM's own).
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { readStat } from "./proc.ts";

/** A freshly spawned, detached VMM. */
export interface SpawnedVmm {
  pid: number;
  startTime: string;
  /** The argv the VMM runs with (what /proc/<pid>/cmdline shows after exec). */
  argv: string[];
  /** Our child handle: its status is the VMM's exit status. */
  child: Deno.ChildProcess;
}

// $1 = log file; the rest is the VMM's argv. No quoting games: "$@" keeps every arg intact.
const EXEC_WITH_LOG = 'log="$1"; shift; exec "$@" </dev/null >>"$log" 2>&1';

/** Spawns `argv` detached with output appended to `logPath`. `argv[0]` must be absolute. */
export async function spawnDetached(argv: string[], logPath: string): Promise<SpawnedVmm> {
  if (!argv[0]?.startsWith("/")) {
    throw new VolantError("internal", `VMM binary must be an absolute path, got ${argv[0]}`);
  }
  const child = new Deno.Command("/bin/sh", {
    args: ["-c", EXEC_WITH_LOG, "sh", logPath, ...argv],
    detached: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Let the daemon exit while the VMM runs on; status still resolves while we live.
  child.unref();
  const stat = await readStat(child.pid);
  if (!stat) {
    // Exited (and reaped) before we could look: report it as a failed start.
    const status = await child.status;
    throw new VolantError("upstream", `VMM exited immediately (code ${status.code})`);
  }
  return { pid: child.pid, startTime: stat.startTime, argv, child };
}

/** Resolves `name` on PATH to an absolute path (or returns it if already absolute). */
export async function resolveBinary(name: string): Promise<string | null> {
  const candidates = name.includes("/")
    ? [name]
    : (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":").map((d) =>
      `${d}/${name}`
    );
  for (const c of candidates) {
    if (!c.startsWith("/")) continue;
    try {
      const st = await Deno.stat(c);
      if (st.isFile && st.mode !== null && (st.mode & 0o111) !== 0) return await Deno.realPath(c);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied)) {
        throw e;
      }
    }
  }
  return null;
}
