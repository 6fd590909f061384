/**
 * What the QEMU and Cloud Hypervisor drivers share: per-VM dirs, detached
 * spawn, the identity record, adoption, exit tracking (child status for our
 * own children, pidfd or /proc for adopted ones), stop with a grace period,
 * forced kill, the serial log cap and destroy. A driver adds its command line
 * and its control channel (QMP or REST).
 *
 * @module
 */
import { isVolantError, VolantError } from "../errors.ts";
import type { Hypervisor, VmExit, VmInfo, VmProcess, VmSpec } from "../service/ports.ts";
import { checkSpec } from "./artifacts.ts";
import { waitForExit } from "./exit_watch.ts";
import { ensureOverlay } from "./overlay.ts";
import { isSameLiveProcess, processesNaming } from "./proc.ts";
import {
  clearBootFiles,
  DEFAULT_RUNTIME_ROOT,
  DEFAULT_STATE_ROOT,
  type DirRoots,
  guestResetOf,
  type IdentityRecord,
  markGuestReset,
  markStopRequested,
  readIdentity,
  removeIfExists,
  runtimePath,
  stopWasRequested,
  validateSpecDirs,
  validateVmDir,
  writeIdentity,
} from "./runtime_dir.ts";
import { startSerialLogCap } from "./serial.ts";
import { keepingAlive, spawnDetached, type SpawnedVmm, type SpawnExtras } from "./spawn.ts";
import { exists } from "../shared/fs.ts";
import { cgroupParentFor } from "./cgroup.ts";
import type { Jail, JailStatus } from "./jail.ts";
import { JailHooks } from "./jail_hooks.ts";
import type { LaunchSpec } from "./launch_spec.ts";

export type { LaunchSpec };
/** Options every detached driver takes. */
export interface DetachedDriverOptions {
  /** Root of per-VM runtime dirs (default /run/volant/vms). */
  runtimeRoot?: string;
  /** Root of per-VM state dirs (default /var/lib/volant/vms). */
  stateRoot?: string;
  /** How long boot waits for the control socket before giving up (default 10 s). */
  startTimeoutMs?: number;
  /** How long `shutdown` waits after the clean-quit request before SIGKILL (default 3 s). */
  quitGraceMs?: number;
  /** Serial log cap check interval (default 2 s). */
  serialCapIntervalMs?: number;
  /** During a graceful shutdown, the power button is pressed again this often (default 5 s). */
  powerButtonRepeatMs?: number;
  /** The VMM jail (src/vmm/jail.ts): null or absent = the VMM runs as the daemon's user. */
  jail?: Jail | null;
  /** What the jail does here, for system/info (resolveJail's status). */
  jailStatus?: JailStatus;
}

/** Which runtime file is the control socket. */
export type ControlFile = "qmp" | "api";

/** How `launch` knows the VMM is up, and what a failure may remove. */
export interface LaunchOptions {
  /** Resolves once the VMM (and its VM) is ready; `signal` aborts on timeout or VMM death. */
  ready(proc: VmProcess, signal: AbortSignal): Promise<void>;
  /** How long `ready` may take. */
  timeoutMs: number;
  /** Whether these dirs existed before the call: a failed launch removes only what it made. */
  existed: { runtimeDir: boolean; stateDir: boolean };
}

interface Tracked {
  exit: Promise<VmExit>;
  stopCap: () => void;
}

/** Base class: subclasses supply argv, the control channel and info. */
export abstract class DetachedVmmDriver implements Hypervisor {
  abstract readonly kind: "qemu" | "cloud-hypervisor";
  protected readonly roots: DirRoots;
  protected readonly startTimeoutMs: number;
  protected readonly quitGraceMs: number;
  protected readonly serialCapIntervalMs: number;
  protected readonly powerButtonRepeatMs: number;
  /** The VMM jail's hooks (own user, cgroup, private root, TAP fd), or null when unjailed. */
  protected readonly jail: JailHooks | null;
  /** What the jail does on this host (reported at start and in system/info). */
  readonly jailStatus?: JailStatus;
  readonly #tracked = new Map<string, Tracked>();
  readonly #children = new Map<string, SpawnedVmm>();
  /** Specs `prepare` has just checked and set up: `boot` need not do it again. */
  readonly #prepared = new WeakSet<VmSpec>();
  /** The VMM binary's resolved path, kept until a boot fails. */
  #binaryPath?: string;

  constructor(opts: DetachedDriverOptions = {}) {
    this.roots = {
      runtimeRoot: opts.runtimeRoot ?? DEFAULT_RUNTIME_ROOT,
      stateRoot: opts.stateRoot ?? DEFAULT_STATE_ROOT,
    };
    this.startTimeoutMs = opts.startTimeoutMs ?? 10_000;
    this.quitGraceMs = opts.quitGraceMs ?? 3_000;
    this.serialCapIntervalMs = opts.serialCapIntervalMs ?? 2_000;
    this.powerButtonRepeatMs = opts.powerButtonRepeatMs ?? 5_000;
    this.jailStatus = opts.jailStatus;
    this.jail = opts.jail
      ? new JailHooks(opts.jail, cgroupParentFor(this.roots.runtimeRoot, DEFAULT_RUNTIME_ROOT))
      : null;
  }

  abstract available(): Promise<{ ok: true } | { ok: false; reason: string }>;
  abstract info(proc: VmProcess): Promise<VmInfo>;
  abstract pause(proc: VmProcess): Promise<void>;
  abstract resume(proc: VmProcess): Promise<void>;
  /** Kernel arguments this driver needs on this host (e.g. tsc_early_khz under TCG). */
  abstract extraKernelArgs(): Promise<string[]>;
  /** The control socket's runtime file. */
  protected abstract readonly controlFile: ControlFile;
  /** The VMM binary's absolute path; throws `unavailable` when missing. */
  protected abstract binary(): Promise<string>;
  /** The full argv (argv[0] = binary). */
  protected abstract buildArgv(binary: string, spec: VmSpec): Promise<string[]>;
  /** Asks the guest to power off (ACPI power button). */
  protected abstract requestPowerButton(proc: VmProcess): Promise<void>;
  /** Asks the VMM itself to exit now (QMP quit / vmm.shutdown). */
  protected abstract requestQuit(proc: VmProcess): Promise<void>;
  /** Resolves once the VMM answers on its control socket. */
  protected abstract waitControlReady(socket: string, signal: AbortSignal): Promise<void>;

  /**
   * Called once per booted or adopted VMM; returns a stop function run at its
   * exit. CH uses it to copy the serial socket into serial.log (QEMU logs itself).
   */
  protected attachSerial(_proc: VmProcess): () => void {
    return () => {};
  }

  /**
   * Called once per booted or adopted VMM; returns a stop function run at its
   * exit. A VMM that reboots its guest in place (CH) watches for that here and
   * calls `endAfterGuestReset`. QEMU needs nothing (`-no-reboot`).
   */
  protected watchGuest(_proc: VmProcess): () => void {
    return () => {};
  }

  /**
   * The guest rebooted or panicked and the VMM kept it running: record it and
   * end the VMM (clean quit, then SIGKILL), so the exit is a crash with
   * `guest` set and the restart policy decides. A stop already asked for wins.
   */
  protected async endAfterGuestReset(proc: VmProcess, what: "reboot" | "panic"): Promise<void> {
    if (await stopWasRequested(proc.runtimeDir)) return;
    if (!(await isSameLiveProcess(proc))) return;
    await markGuestReset(proc.runtimeDir, what);
    const exit = this.exited(proc);
    try {
      await this.requestQuit(proc);
      if (await settlesWithin(exit, this.quitGraceMs)) return;
    } catch (e) {
      if (!(e instanceof VolantError)) throw e;
    }
    await this.#forceKill(proc);
  }

  /**
   * How the VMM of `spec` is spawned beyond its argv (the QEMU jail's wrapper
   * and TAP fd); `release` runs once the spawn is over, whatever its outcome.
   */
  protected async spawnExtras(
    spec: LaunchSpec,
  ): Promise<{ extras: SpawnExtras; release: () => void }> {
    if (!this.jail) return { extras: {}, release: () => {} };
    return await this.jail.spawnExtras(spec, await this.jailAccel());
  }

  /** The accelerator the jail makes room for in the VMM's private root (/dev/kvm or not). */
  protected jailAccel(): Promise<"kvm" | "tcg"> {
    return Promise.resolve("kvm");
  }

  /** Where a console client connects (`VmProcess.serialSocket`): the VMM's serial socket. */
  protected consoleSocket(runtimeDir: string): string {
    return runtimePath(runtimeDir, "serialSocket");
  }

  /** The control socket of a VM. */
  controlSocket(proc: Pick<VmProcess, "runtimeDir">): string {
    return runtimePath(proc.runtimeDir, this.controlFile);
  }

  async prepare(spec: VmSpec): Promise<void> {
    validateSpecDirs(spec, this.roots);
    await checkSpec(spec);
    const created: string[] = [];
    try {
      if (await mkdirIfMissing(spec.runtimeDir, 0o700)) created.push(spec.runtimeDir);
      const overlays = spec.disks.filter((d) => d.backingImage !== undefined);
      if (overlays.length > 0 && await mkdirIfMissing(spec.stateDir, 0o700)) {
        created.push(spec.stateDir);
      }
      for (const d of overlays) {
        if (await ensureOverlay(d.path, d.backingImage!)) created.push(d.path);
      }
      this.#prepared.add(spec);
    } catch (e) {
      // Undo only what this call made, newest first: a failed prepare leaves nothing new.
      for (const p of created.reverse()) await removeIfExists(p, true);
      throw e;
    }
    await this.jail?.prepare(spec);
  }

  async boot(spec: VmSpec): Promise<VmProcess> {
    validateSpecDirs(spec, this.roots);
    const binary = this.#binaryPath ??= await this.binary();
    const dirExisted = await exists(spec.runtimeDir);
    const stateExisted = await exists(spec.stateDir);
    // Every stat before the spawn delays the guest: skip a prepare the caller just did.
    if (!this.#prepared.delete(spec)) await this.prepare(spec);
    const running = await this.liveRecord(spec.runtimeDir);
    if (running) {
      throw new VolantError(
        "conflict",
        `VM ${spec.name} already has a running VMM (pid ${running.pid})`,
      );
    }
    await clearBootFiles(spec.runtimeDir);
    const argv = await this.buildArgv(binary, spec);
    return await this.launch(spec, argv, {
      ready: (proc, signal) => this.waitControlReady(this.controlSocket(proc), signal),
      timeoutMs: this.startTimeoutMs,
      existed: { runtimeDir: dirExisted, stateDir: stateExisted },
    });
  }

  /**
   * Spawns `argv` detached for `spec`'s VM, records its identity, tracks it and
   * waits for `o.ready`. On failure nothing is left: no process, no boot files,
   * and the dirs this call's caller created are removed; the error quotes vmm.log.
   * The caller has validated the dirs, refused a live VMM and cleared boot files.
   */
  protected async launch(
    spec: LaunchSpec,
    argv: string[],
    o: LaunchOptions,
  ): Promise<VmProcess> {
    const proc: VmProcess = {
      name: spec.name,
      pid: 0,
      startTime: "",
      runtimeDir: spec.runtimeDir,
      serialSocket: this.consoleSocket(spec.runtimeDir),
      serialLog: runtimePath(spec.runtimeDir, "serialLog"),
    };
    let spawned: SpawnedVmm | undefined;
    try {
      const { extras, release } = await this.spawnExtras(spec);
      try {
        spawned = await spawnDetached(argv, runtimePath(spec.runtimeDir, "vmmLog"), extras);
      } finally {
        release();
      }
      proc.pid = spawned.pid;
      proc.startTime = spawned.startTime;
      this.#children.set(key(proc), spawned);
      await writeIdentity(spec.runtimeDir, {
        kind: this.kind,
        name: spec.name,
        pid: spawned.pid,
        startTime: spawned.startTime,
        argv,
        controlSocket: this.controlSocket(proc),
        serialSocket: proc.serialSocket,
        serialLog: proc.serialLog,
        serialLogMaxBytes: spec.serialLogMaxBytes,
        bootedAt: new Date().toISOString(),
      });
      this.#track(proc, spec.serialLogMaxBytes);
      await this.#waitStarted(proc, spawned, o);
      this.jail?.releaseAt(proc.name, this.exited(proc));
      return proc;
    } catch (e) {
      this.#binaryPath = undefined; // re-resolved next time (moved or reinstalled)
      const detail = await this.#logTail(spec.runtimeDir);
      if (spawned) {
        await this.#forceKill(proc);
        // Reaped before we report, so no zombie outlives the failed boot.
        const exit = this.#tracked.get(key(proc))?.exit;
        if (exit) await keepingAlive(exit);
      }
      await clearBootFiles(spec.runtimeDir);
      // What this call created goes; what a separate prepare made is the caller's to destroy.
      if (!o.existed.runtimeDir) await removeIfExists(spec.runtimeDir, true);
      if (!o.existed.stateDir) await removeIfExists(spec.stateDir, true);
      if (e instanceof VolantError && e.code !== "upstream") throw e;
      throw new VolantError(
        "upstream",
        `${this.kind} failed to start VM ${spec.name}: ${detail || String(e)}`,
        { cause: e },
      );
    }
  }

  shutdown(proc: VmProcess, opts: { graceMs: number }): Promise<void> {
    return keepingAlive(this.#shutdown(proc, opts));
  }

  async #shutdown(proc: VmProcess, opts: { graceMs: number }): Promise<void> {
    const exit = this.exited(proc);
    if (!(await isSameLiveProcess(proc))) {
      await exit;
      return;
    }
    await markStopRequested(proc.runtimeDir);
    try {
      // A paused guest cannot act on the button: let it run first.
      if ((await this.info(proc)).state === "paused") await this.resume(proc);
      // Press again now and then: a press before the guest's PID 1 watches the
      // button (early boot) is lost, and one more press is harmless.
      const deadline = performance.now() + opts.graceMs;
      while (performance.now() < deadline) {
        await this.requestPowerButton(proc);
        const slice = Math.min(deadline - performance.now(), this.powerButtonRepeatMs);
        if (await settlesWithin(exit, Math.max(0, slice))) return;
      }
    } catch (e) {
      // A control channel that does not answer gets the harder steps below.
      if (!(e instanceof VolantError)) throw e;
    }
    try {
      await this.requestQuit(proc);
      if (await settlesWithin(exit, this.quitGraceMs)) return;
    } catch (e) {
      if (!(e instanceof VolantError)) throw e;
    }
    await this.#forceKill(proc);
    await exit;
  }

  kill(proc: VmProcess): Promise<void> {
    return keepingAlive((async () => {
      const exit = this.exited(proc);
      if (await isSameLiveProcess(proc)) {
        await markStopRequested(proc.runtimeDir);
        await this.#forceKill(proc);
      }
      await exit;
    })());
  }

  async adopt(name: string, runtimeDir: string): Promise<VmProcess | null> {
    validateVmDir(name, runtimeDir, this.roots.runtimeRoot, "runtimeDir");
    const rec = await readIdentity(runtimeDir);
    if (!rec) {
      await this.#killOrphans(runtimeDir);
      return null;
    }
    if (rec.kind !== this.kind || rec.name !== name) {
      throw new VolantError(
        "conflict",
        `${runtimeDir} belongs to a ${rec.kind} VMM for ${rec.name}, not ${this.kind}/${name}`,
      );
    }
    if (!(await isSameLiveProcess(rec))) {
      await this.#killOrphans(runtimeDir);
      return null;
    }
    const proc: VmProcess = {
      name,
      pid: rec.pid,
      startTime: rec.startTime,
      runtimeDir,
      serialSocket: rec.serialSocket,
      serialLog: rec.serialLog,
    };
    this.#track(proc, rec.serialLogMaxBytes);
    this.jail?.releaseAt(proc.name, this.exited(proc));
    return proc;
  }

  /**
   * A daemon killed between spawning a VMM and writing its identity record
   * leaves a VMM nobody can adopt, which would hold the VM's TAP and disks
   * beside the one booted next. Such an orphan names this VM's runtime dir in
   * its argv; it is killed (SIGKILL: it has no record, so no clean path).
   */
  async #killOrphans(runtimeDir: string): Promise<void> {
    let binary: string;
    try {
      binary = this.#binaryPath ??= await this.binary();
    } catch (e) {
      if (isVolantError(e, "unavailable")) return; // no VMM binary: no orphan of it either
      throw e;
    }
    const name = binary.slice(binary.lastIndexOf("/") + 1);
    for (const orphan of await processesNaming(runtimeDir, name)) {
      try {
        Deno.kill(orphan.pid, "SIGKILL");
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
      await waitForExit(orphan, AbortSignal.timeout(5_000));
    }
  }

  /**
   * The VMM child is unref'd (the daemon may exit while VMs run), so a process
   * with nothing else pending will not stay alive just to see this resolve.
   */
  exited(proc: VmProcess): Promise<VmExit> {
    // Not booted or adopted by this instance: watch it like an adopted one.
    const base = (this.#tracked.get(key(proc)) ?? this.#track(proc, null)).exit;
    // Jailed: marked `oom` when the VMM died at its cgroup's memory limit.
    return this.jail ? this.jail.exited(proc, base) : base;
  }

  async destroy(spec: Pick<VmSpec, "name" | "runtimeDir" | "stateDir">): Promise<void> {
    validateSpecDirs(spec, this.roots);
    const running = await this.liveRecord(spec.runtimeDir);
    if (running) {
      throw new VolantError(
        "conflict",
        `VM ${spec.name} is still running (pid ${running.pid}): stop it first`,
      );
    }
    await removeIfExists(spec.runtimeDir, true);
    await removeIfExists(spec.stateDir, true);
    await this.jail?.release(spec.name);
  }

  /** Exit tracking and the serial cap for one process; idempotent per pid+start time. */
  #track(proc: VmProcess, serialLogMaxBytes: number | null): Tracked {
    const k = key(proc);
    const existing = this.#tracked.get(k);
    if (existing) return existing;
    const stopCap = serialLogMaxBytes
      ? startSerialLogCap(proc.serialLog, serialLogMaxBytes, this.serialCapIntervalMs)
      : () => {};
    const stopSerial = serialLogMaxBytes ? this.attachSerial(proc) : () => {};
    const stopGuestWatch = serialLogMaxBytes ? this.watchGuest(proc) : () => {};
    const child = this.#children.get(k);
    const exit = (async (): Promise<VmExit> => {
      let code: number | null = null;
      let signal: string | null = null;
      if (child) {
        ({ code, signal } = await child.status);
      } else {
        // Not our child: the exit status is not ours to read, only the fact of the exit.
        await waitForExit({ pid: proc.pid, startTime: proc.startTime });
      }
      stopCap();
      stopSerial();
      stopGuestWatch();
      this.#children.delete(k);
      const requested = await stopWasRequested(proc.runtimeDir);
      const guest = requested ? null : await guestResetOf(proc.runtimeDir);
      return guest ? { code, signal, requested, guest } : { code, signal, requested };
    })();
    const tracked = { exit, stopCap };
    this.#tracked.set(k, tracked);
    return tracked;
  }

  async #waitStarted(proc: VmProcess, spawned: SpawnedVmm, o: LaunchOptions): Promise<void> {
    const ac = new AbortController();
    const timer = setTimeout(
      () => ac.abort(new Error(`not ready after ${o.timeoutMs} ms`)),
      o.timeoutMs,
    );
    const died = spawned.status.then((s) => {
      ac.abort(new Error(`exited with code ${s.code}${s.signal ? ` (${s.signal})` : ""}`));
    });
    try {
      await o.ready(proc, ac.signal);
    } finally {
      clearTimeout(timer);
      ac.abort();
      void died;
    }
  }

  async #forceKill(proc: VmProcess): Promise<void> {
    // Never signal a recycled pid.
    if (!(await isSameLiveProcess(proc))) return;
    try {
      Deno.kill(proc.pid, "SIGKILL");
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /** The identity record of a VMM still alive in `runtimeDir`, else null. */
  protected async liveRecord(runtimeDir: string): Promise<IdentityRecord | null> {
    const rec = await readIdentity(runtimeDir).catch((e) => {
      if (e instanceof VolantError) return null; // a corrupt record describes no live VMM
      throw e;
    });
    return rec && (await isSameLiveProcess(rec)) ? rec : null;
  }

  async #logTail(runtimeDir: string): Promise<string> {
    try {
      const text = await Deno.readTextFile(runtimePath(runtimeDir, "vmmLog"));
      return text.trim().split("\n").slice(-5).join(" | ");
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return "";
      throw e;
    }
  }
}

function key(p: Pick<VmProcess, "pid" | "startTime">): string {
  return `${p.pid}:${p.startTime}`;
}

/** True when `p` settles within `ms`; the timer is always cleared. */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(false), ms);
    p.then(() => {
      clearTimeout(timer);
      resolve(true);
    }, (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function mkdirIfMissing(path: string, mode: number): Promise<boolean> {
  if (await exists(path)) return false;
  await Deno.mkdir(path, { recursive: true, mode });
  return true;
}
