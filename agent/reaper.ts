/**
 * Zombie reaping for PID 1 without stealing exit statuses. On SIGCHLD (and on
 * a slow safety sweep) it peeks with waitid(P_ALL, WEXITED|WNOHANG|WNOWAIT):
 * an untracked zombie is reaped with waitpid(pid); a tracked one (a child Deno
 * itself waits on) is left alone, and since waitid would keep reporting it,
 * the remaining zombies are found in /proc (state Z, parent = us). No loop
 * ever waits or spins: when nothing is waitable it returns at once. Adopted
 * children (ChildTracker.adopt: the workload the shim started) are reaped
 * here with their status, which goes to whoever adopted them.
 *
 * @module
 */
import * as libc from "./_libc.ts";
import type { ChildTracker } from "./child_tracker.ts";
import type { ConsoleSink } from "./console.ts";
import { every } from "./timeout.ts";

/** Pid, state letter, parent pid and session id from a /proc/<pid>/stat line. */
export function parseStat(
  text: string,
): { pid: number; state: string; ppid: number; session: number } | null {
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  const rest = text.slice(close + 2).split(" ");
  return {
    pid: Number(text.slice(0, text.indexOf(" "))),
    state: rest[0],
    ppid: Number(rest[1]),
    session: Number(rest[3]),
  };
}

export class Reaper {
  /** How many processes this reaper has reaped. */
  reaped = 0;
  readonly #tracker: ChildTracker;
  readonly #console: ConsoleSink;
  readonly #sweepMs: number;
  #stopSweep = () => {};
  #listener = () => this.reapNow();

  constructor(tracker: ChildTracker, console: ConsoleSink, sweepMs = 10_000) {
    this.#tracker = tracker;
    this.#console = console;
    this.#sweepMs = sweepMs;
  }

  /** Listens for SIGCHLD and reaps what already exited (an adopted child that died early). */
  start(): void {
    Deno.addSignalListener("SIGCHLD", this.#listener);
    this.#stopSweep = every(this.#sweepMs, this.#listener);
    this.reapNow();
  }

  stop(): void {
    Deno.removeSignalListener("SIGCHLD", this.#listener);
    this.#stopSweep();
  }

  #reap(pid: number): boolean {
    if (this.#tracker.isAdopted(pid)) {
      const status = libc.waitpidStatus(pid);
      if (status === null) return false;
      this.reaped++;
      this.#tracker.settle(pid, status);
      return true;
    }
    const rc = libc.waitpidNoHang(pid);
    if (rc === pid) {
      this.reaped++;
      return true;
    }
    return false;
  }

  /** Reaps every untracked zombie child now; returns how many. */
  reapNow(): number {
    let count = 0;
    try {
      for (;;) {
        const pid = libc.waitidAny(libc.WEXITED | libc.WNOHANG | libc.WNOWAIT);
        if (pid <= 0) return count; // nothing waitable, or no children at all
        if (this.#tracker.has(pid)) break;
        if (this.#reap(pid)) count++;
        else break;
      }
      count += this.#sweepProc();
    } catch (e) {
      this.#console.line(`reaper: ${(e as Error).message}`);
    }
    return count;
  }

  /** Reaps untracked zombies whose parent is this process, found through /proc. */
  #sweepProc(): number {
    const self = Deno.pid;
    let count = 0;
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      let text: string;
      try {
        text = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue; // exited and reaped meanwhile
        throw e;
      }
      const st = parseStat(text);
      if (st && st.state === "Z" && st.ppid === self && !this.#tracker.has(st.pid)) {
        if (this.#reap(st.pid)) count++;
      }
    }
    return count;
  }
}
