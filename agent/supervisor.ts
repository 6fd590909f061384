/**
 * Runs the workload: spawns it in its own session and process group, tees its
 * stdout/stderr to the console and a bounded ring buffer, restarts it per the
 * restart policy with exponential backoff (capped delay, capped number of
 * quick consecutive failures), and stops it gracefully (SIGTERM to the group,
 * bounded wait, SIGKILL). Every wait is bounded.
 *
 * @module
 */
import type { ConsoleSink } from "./console.ts";
import { RingBuffer } from "./ring_buffer.ts";
import type { ChildTracker } from "./child_tracker.ts";
import type { WorkloadSpec } from "./workload_spec.ts";
import { sleep, TIMED_OUT, within } from "./timeout.ts";
import type { WaitStatus } from "./_libc.ts";

/**
 * A workload started before kestrel (by the shim, "workload first"): its pid
 * (its own session and group), its exit status (from the reaper) and its
 * stdout+stderr pipe (null when there is none). It is run 1; restarts spawn
 * as usual.
 */
export interface AdoptedRun {
  pid: number;
  status: Promise<WaitStatus>;
  output: ReadableStream<Uint8Array> | null;
}

/** What one run is while it lasts: a pid and how it will end. */
interface LiveRun {
  pid: number;
  status: Promise<WaitStatus>;
}

export type WorkloadState =
  | "starting"
  | "running"
  | "backoff"
  | "exited"
  | "failed"
  | "stopping"
  | "stopped";

export interface ExitInfo {
  code: number;
  signal: string | null;
  at: string;
}

export interface BackoffOptions {
  /** First restart delay. */
  initialMs: number;
  /** Cap on the delay. */
  maxMs: number;
  /** A run lasting this long resets the backoff and the failure count. */
  resetAfterMs: number;
  /** Give up (state "failed") after this many consecutive quick failures. */
  maxQuickFailures: number;
}

export interface SupervisorOptions {
  console: ConsoleSink;
  tracker: ChildTracker;
  logBytes?: number;
  backoff?: Partial<BackoffOptions>;
  /** Called after each successful spawn (health checks restart from here). */
  onStart?: (pid: number, run: number) => void;
  /** Called when a run ends (also when it failed to spawn). */
  onExit?: (exit: ExitInfo) => void;
  /** Time origin for the spawn timing (performance.now() at kestrel start). */
  t0?: number;
  /** Run 1 is this already running workload instead of a spawn. */
  adopt?: AdoptedRun;
}

const DEFAULT_BACKOFF: BackoffOptions = {
  initialMs: 200,
  maxMs: 10_000,
  resetAfterMs: 10_000,
  maxQuickFailures: 10,
};

/**
 * Sends `signal` to the process group `pgid`; a group already gone is fine.
 * Right after a spawn through the setsid helper the group may not exist yet
 * (the helper has not called setsid()): then the process itself is signalled.
 */
function killGroup(pgid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pgid, signal);
    return;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e; // ESRCH: no such group
  }
  try {
    Deno.kill(pgid, signal);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e; // ESRCH: already gone
  }
}

export class Supervisor {
  readonly logs: RingBuffer;
  state: WorkloadState = "starting";
  pid: number | null = null;
  /** Number of restarts so far (spawns after the first). */
  restarts = 0;
  lastExit: ExitInfo | null = null;
  lastError: string | null = null;
  /** performance.now() - t0 at the first successful spawn. */
  firstSpawnMs: number | null = null;

  readonly #spec: WorkloadSpec;
  readonly #opts: SupervisorOptions;
  readonly #backoff: BackoffOptions;
  readonly #stop = new AbortController();
  #child: LiveRun | null = null;
  #loop: Promise<void> | null = null;

  constructor(spec: WorkloadSpec, opts: SupervisorOptions) {
    this.#spec = spec;
    this.#opts = opts;
    this.logs = new RingBuffer(opts.logBytes ?? 256 * 1024);
    this.#backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
  }

  /** Starts the supervision loop; the first spawn happens synchronously. */
  start(): void {
    if (this.#loop) throw new Error("supervisor already started");
    this.#loop = this.#run();
  }

  /** Resolves when the supervision loop has ended (after stop, give-up or a final exit). */
  get done(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }

  #spawn(): Deno.ChildProcess {
    const s = this.#spec;
    // Its own session and process group, so signals reach the whole tree: through a setsid
    // helper (posix_spawn, fast) or Deno's detached (a pre-exec setsid, forces fork()).
    const helper = s.setsid ?? null;
    const child = new Deno.Command(helper ? helper.command : s.command, {
      args: helper ? [...helper.args, s.command, ...s.args] : s.args,
      env: s.env,
      clearEnv: true,
      cwd: s.cwd,
      uid: s.uid,
      gid: s.gid,
      detached: helper === null,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#opts.tracker.add(child.pid);
    return child;
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of stream) {
      this.logs.write(chunk);
      this.#opts.console.raw(chunk);
    }
  }

  async #run(): Promise<void> {
    const say = (s: string) => this.#opts.console.line(s);
    let quickFailures = 0;
    let delayMs = this.#backoff.initialMs;
    for (let run = 0; !this.#stop.signal.aborted; run++) {
      if (run > 0) this.restarts++;
      this.state = "starting";
      const started = performance.now();
      let exit: ExitInfo;
      let child: LiveRun | null = null;
      const adopted = run === 0 ? this.#opts.adopt : undefined;
      try {
        if (adopted) child = adopted;
        else {
          const spawned = this.#spawn();
          child = { pid: spawned.pid, status: spawned.status };
          this.#pump(spawned.stdout).catch((e) => say(`workload stdout: ${(e as Error).message}`));
          this.#pump(spawned.stderr).catch((e) => say(`workload stderr: ${(e as Error).message}`));
        }
      } catch (e) {
        this.lastError = `spawn ${this.#spec.command}: ${(e as Error).message}`;
        say(`workload failed to start: ${this.lastError}`);
        exit = { code: 127, signal: null, at: new Date().toISOString() };
      }
      if (child) {
        this.#child = child;
        this.pid = child.pid;
        this.state = "running";
        if (this.firstSpawnMs === null) {
          this.firstSpawnMs = performance.now() - (this.#opts.t0 ?? 0);
        }
        this.#opts.onStart?.(child.pid, run);
        say(
          adopted
            ? `workload adopted: pid ${child.pid} (${this.#spec.command}, started by the shim), run 1`
            : `workload started: pid ${child.pid} (${this.#spec.command}), run ${run + 1}`,
        );
        if (adopted?.output) {
          this.#pump(adopted.output).catch((e) => say(`workload output: ${(e as Error).message}`));
        }
        const status = await child.status;
        this.#opts.tracker.delete(child.pid);
        this.#child = null;
        this.pid = null;
        exit = { code: status.code, signal: status.signal, at: new Date().toISOString() };
        say(
          `workload exited: pid ${child.pid}, ` +
            (status.signal ? `signal ${status.signal}` : `code ${status.code}`),
        );
      }
      this.lastExit = exit!;
      this.#opts.onExit?.(exit!);
      if (this.#stop.signal.aborted) break;
      const failed = exit!.code !== 0 || exit!.signal !== null;
      const policy = this.#spec.restart;
      if (policy === "never" || (policy === "on-failure" && !failed)) {
        this.state = "exited";
        say(`workload not restarted (restart policy ${policy})`);
        return;
      }
      // Leftovers of the old run (background children in its group) would hold its ports.
      if (child) killGroup(child.pid, "SIGKILL");
      if (performance.now() - started >= this.#backoff.resetAfterMs) {
        quickFailures = 0;
        delayMs = this.#backoff.initialMs;
      }
      quickFailures++;
      if (quickFailures > this.#backoff.maxQuickFailures) {
        this.state = "failed";
        say(
          `workload gave up after ${this.#backoff.maxQuickFailures} quick restarts ` +
            `(policy ${policy}); see /v1/logs`,
        );
        return;
      }
      this.state = "backoff";
      say(`workload restarting in ${delayMs} ms (policy ${policy})`);
      await sleep(delayMs, this.#stop.signal);
      delayMs = Math.min(delayMs * 2, this.#backoff.maxMs);
    }
    this.state = "stopped";
  }

  /**
   * Stops the workload: no more restarts, SIGTERM to its process group, up to
   * `timeoutMs` for it to exit, then SIGKILL and a short bounded wait.
   */
  async stop(timeoutMs = 10_000): Promise<"none" | "terminated" | "killed"> {
    this.#stop.abort();
    const child = this.#child;
    if (!child) {
      if (this.state !== "exited" && this.state !== "failed") this.state = "stopped";
      return "none";
    }
    this.state = "stopping";
    killGroup(child.pid, "SIGTERM");
    const exited = (await within(child.status, timeoutMs)) !== TIMED_OUT;
    let how: "terminated" | "killed" = "terminated";
    if (!exited) {
      this.#opts.console.line(`workload ignored SIGTERM for ${timeoutMs} ms: SIGKILL`);
      killGroup(child.pid, "SIGKILL");
      how = "killed";
    }
    // SIGKILL cannot be ignored; the bound only guards a process stuck in the kernel.
    await within(child.status, 2_000);
    killGroup(child.pid, "SIGKILL");
    await within(this.done, 1_000);
    this.state = "stopped";
    return how;
  }
}
