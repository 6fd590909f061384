/**
 * The debug shell: `/bin/sh` on the serial console as a new session with the
 * tty as its controlling terminal, only when `volant.debug_shell=1`. Deno
 * cannot run code between fork and exec, so busybox/util-linux `setsid -c`
 * does the setsid + TIOCSCTTY. The child is not detached: setsid then runs
 * in-process instead of forking, so the pid kestrel tracks is the shell's.
 * Respawned with backoff (1 s doubling to 10 s) when it exits.
 *
 * @module
 */
import type { ChildTracker } from "./child_tracker.ts";
import type { ConsoleSink } from "./console.ts";
import { DEFAULT_PATH } from "./workload_spec.ts";
import { sleep } from "./timeout.ts";

export class DebugShell {
  readonly #tracker: ChildTracker;
  readonly #console: ConsoleSink;
  readonly #tty: string;
  readonly #stop = new AbortController();
  #child: Deno.ChildProcess | null = null;

  constructor(tracker: ChildTracker, console: ConsoleSink, tty = "/dev/ttyS0") {
    this.#tracker = tracker;
    this.#console = console;
    this.#tty = tty;
  }

  start(): void {
    this.#console.line(`debug shell enabled on ${this.#tty} (volant.debug_shell=1)`);
    this.#loop().catch((e) => this.#console.line(`debug shell: ${(e as Error).message}`));
  }

  async #loop(): Promise<void> {
    let backoff = 1_000;
    while (!this.#stop.signal.aborted) {
      const started = performance.now();
      try {
        const child = new Deno.Command("/bin/sh", {
          args: ["-c", `exec setsid -c /bin/sh <${this.#tty} >${this.#tty} 2>&1`],
          env: { PATH: DEFAULT_PATH, TERM: "linux", HOME: "/root" },
          clearEnv: true,
          cwd: "/",
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn();
        this.#tracker.add(child.pid);
        this.#child = child;
        await child.status;
        this.#tracker.delete(child.pid);
        this.#child = null;
      } catch (e) {
        this.#console.line(`debug shell failed to start: ${(e as Error).message}`);
      }
      if (performance.now() - started > 30_000) backoff = 1_000;
      await sleep(backoff, this.#stop.signal);
      backoff = Math.min(backoff * 2, 10_000);
    }
  }

  stop(): void {
    this.#stop.abort();
    try {
      this.#child?.kill("SIGKILL");
    } catch (e) {
      if (!(e instanceof TypeError)) throw e; // already exited
    }
  }
}
