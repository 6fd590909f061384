/**
 * Waits for a process that is not our child (an adopted VMM) to exit: pidfd
 * when FFI is allowed, otherwise polling /proc with the identity check (so a
 * recycled pid counts as "exited").
 *
 * @module
 */
import { openPidFd } from "./_pidfd.ts";
import { isSameLiveProcess, type ProcIdentity } from "./proc.ts";

/** How often the fallback polls /proc; also the pidfd wait slice. */
export const EXIT_POLL_MS = 250;

/**
 * Resolves once the identified process is gone (or `signal` aborts, which
 * rejects). `pidfd: false` forces the /proc polling fallback.
 */
export async function waitForExit(
  id: ProcIdentity,
  signal?: AbortSignal,
  opts: { pidfd?: boolean } = {},
): Promise<void> {
  if (!(await isSameLiveProcess(id))) return;
  const pidfd = opts.pidfd === false ? null : openPidFd(id.pid);
  try {
    // Re-check after opening: the pid may have been recycled between the two steps.
    if (pidfd && !(await isSameLiveProcess(id))) return;
    while (true) {
      signal?.throwIfAborted();
      if (pidfd) {
        if (await pidfd.waitExit(EXIT_POLL_MS * 4)) return;
        // A zombie (our own unreaped child) keeps the pidfd readable... or not yet;
        // the identity check settles it either way.
        if (!(await isSameLiveProcess(id))) return;
      } else {
        await sleep(EXIT_POLL_MS, signal);
        if (!(await isSameLiveProcess(id))) return;
      }
    }
  } finally {
    pidfd?.close();
  }
}

/** setTimeout as a promise; `unref` lets the process exit while it waits. */
export function sleep(ms: number, signal?: AbortSignal, unref = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (unref) Deno.unrefTimer(timer);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
