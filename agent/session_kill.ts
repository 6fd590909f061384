/**
 * Ends a process session: SIGKILLs every process whose session id is `sid`
 * (found in /proc/<pid>/stat), not only the leader's process group, since a
 * job-control shell (busybox ash with `set -m`, or any program calling
 * setpgid) puts its jobs in groups of their own. A process that called
 * setsid() itself left the session and is not touched. The session id stays
 * reserved while any member lives, so it cannot name someone else's session
 * after the leader exited. Killed orphans are reparented to PID 1, whose
 * reaper reaps them (no zombies stay).
 *
 * @module
 */
import { parseStat } from "./reaper.ts";
import { killGroup } from "./supervisor.ts";
import { sleep } from "./timeout.ts";

/** The live (not zombie) processes of session `sid`. */
export function sessionMembers(sid: number, procDir = "/proc"): number[] {
  const out: number[] = [];
  for (const entry of Deno.readDirSync(procDir)) {
    if (!/^\d+$/.test(entry.name)) continue;
    let text: string;
    try {
      text = Deno.readTextFileSync(`${procDir}/${entry.name}/stat`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue; // exited meanwhile
      throw e;
    }
    const st = parseStat(text);
    if (st && st.session === sid && st.state !== "Z" && st.state !== "X") out.push(st.pid);
  }
  return out;
}

function killPid(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e; // ESRCH: already gone
  }
}

/**
 * SIGKILLs session `sid` (led by pid `sid`, which may not have called setsid
 * yet: its group and itself are killed too) until no member is left, polling
 * every 10 ms for at most `boundMs` (a process forking while it is being
 * killed is caught by the next round). Resolves true when the session is empty.
 */
export async function killSession(sid: number, boundMs = 2_000): Promise<boolean> {
  killGroup(sid, "SIGKILL");
  const deadline = performance.now() + boundMs;
  for (;;) {
    const members = sessionMembers(sid);
    if (members.length === 0) return true;
    if (performance.now() >= deadline) return false;
    for (const pid of members) killPid(pid);
    await sleep(10);
  }
}
