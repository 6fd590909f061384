/**
 * The Cloud Hypervisor driver (production VMM, KVM only). Boots with the
 * command line of args.ts, controls the VM through the REST API on its api
 * socket, copies the serial socket into serial.log, and watches the event
 * monitor: CH reboots a guest in place, so a guest reboot or panic ends the
 * VMM here and the exit carries `guest` (a crash for the restart policy).
 *
 * Beyond the port: `snapshot(proc, dir)` and `restore(spec, dir)` (see their
 * comments and docs/hypervisors.md).
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { VmInfo, VmProcess, VmSpec } from "../../service/ports.ts";
import {
  type ControlFile,
  type DetachedDriverOptions,
  DetachedVmmDriver,
  type LaunchSpec,
} from "../detached_driver.ts";
import type { SpawnExtras } from "../spawn.ts";
import { JAILED_TAP_FD } from "../jail_hooks.ts";
import { sleep } from "../exit_watch.ts";
import { checkKvmDevice } from "../accel/kvm_device.ts";
import { isSameLiveProcess } from "../proc.ts";
import { clearBootFiles, removeIfExists, runtimePath, validateSpecDirs } from "../runtime_dir.ts";
import { resolveBinary } from "../spawn.ts";
import { ChApiClient, type ChVmState } from "./api_client.ts";
import { buildChArgs, buildChRestoreArgs } from "./args.ts";
import { guestResetKind, watchChEvents } from "./event_monitor.ts";
import { startSerialPump } from "./serial_pump.ts";
import { exists } from "../../shared/fs.ts";
import { chVersion } from "./version_probe.ts";

/** Cloud Hypervisor driver options. */
export interface CloudHypervisorDriverOptions extends DetachedDriverOptions {
  /** cloud-hypervisor (name on PATH or absolute path). */
  binary?: string;
  /** Skip the /dev/kvm check (only for the contract-fake VMM in tests). */
  skipKvmCheck?: boolean;
  /**
   * How long vm.snapshot / vm.restore may take (default 10 min): CH copies all
   * guest memory before it answers.
   */
  memoryCopyTimeoutMs?: number;
  /** How often the event-monitor file is read (default 200 ms). */
  eventPollMs?: number;
}

/** What `snapshot` and `restore` take beyond the VM. */
export interface ChSnapshotOptions {
  /** Resume the VM afterwards (default true). False leaves it paused. */
  resume?: boolean;
}

/** What `restore` takes beyond the snapshot dir. */
export interface ChRestoreOptions extends ChSnapshotOptions {
  /** Fault all guest memory in before resuming (CH `prefault`, default CH's: off). */
  prefault?: boolean;
}

const INSTALL_HINT = "install a static release (v53.0 or newer) from " +
  "https://github.com/cloud-hypervisor/cloud-hypervisor/releases into /usr/local/bin";

/** CH's snapshot files (vmm/src/migration/mod.rs, vmm/src/memory_manager.rs). */
const SNAPSHOT_FILES = ["config.json", "state.json"] as const;

/** Hypervisor port over Cloud Hypervisor. */
export class CloudHypervisorDriver extends DetachedVmmDriver {
  readonly kind = "cloud-hypervisor" as const;
  /**
   * Every VM gets a vsock device (args.ts) and kestrel serves the agent channel on its port
   * 1024: the key goes over the channel's hello, never on the kernel command line.
   */
  readonly agentChannel = true;
  protected readonly controlFile: ControlFile = "api";
  readonly #binaryName: string;
  readonly #skipKvmCheck: boolean;
  readonly #memoryCopyTimeoutMs: number;
  readonly #eventPollMs: number;

  constructor(opts: CloudHypervisorDriverOptions = {}) {
    super(opts);
    this.#binaryName = opts.binary ?? "cloud-hypervisor";
    this.#skipKvmCheck = opts.skipKvmCheck ?? false;
    this.#memoryCopyTimeoutMs = opts.memoryCopyTimeoutMs ?? 600_000;
    this.#eventPollMs = opts.eventPollMs ?? 200;
  }

  async available(): Promise<{ ok: true } | { ok: false; reason: string }> {
    const problems: string[] = [];
    const kvm = this.#skipKvmCheck ? { ok: true as const } : checkKvmDevice("/dev/kvm");
    if (!kvm.ok) {
      problems.push(`/dev/kvm is not usable (Cloud Hypervisor needs KVM): ${kvm.reason}`);
    }
    if (!(await resolveBinary(this.#binaryName))) {
      problems.push(`${this.#binaryName} not found (${INSTALL_HINT})`);
    }
    return problems.length ? { ok: false, reason: problems.join("; ") } : { ok: true };
  }

  /**
   * What a snapshot is tied to: the version the VMM reports over `vmm.ping`
   * (version_probe.ts). CH restores only snapshots of its own version.
   */
  async version(): Promise<string> {
    return await chVersion(await this.binary());
  }

  /** CH needs nothing extra on the cmdline (KVM, real TSC). */
  extraKernelArgs(): Promise<string[]> {
    return Promise.resolve([]);
  }

  /** The API client for a VM (anything beyond the port). */
  api(proc: Pick<VmProcess, "runtimeDir">): ChApiClient {
    return new ChApiClient(this.controlSocket(proc), {
      memoryCopyTimeoutMs: this.#memoryCopyTimeoutMs,
    });
  }

  async info(proc: VmProcess): Promise<VmInfo> {
    if (!(await isSameLiveProcess(proc))) return { state: "shutdown" };
    let info;
    try {
      info = await this.api(proc).vmInfo();
    } catch (e) {
      // 404: the VMM runs without a VM (before a restore, or after vm.shutdown + delete).
      if (e instanceof VolantError && e.details.status === 404) return { state: "shutdown" };
      throw e;
    }
    return { state: portState(info.state), raw: info };
  }

  async pause(proc: VmProcess): Promise<void> {
    await this.api(proc).pause();
  }

  async resume(proc: VmProcess): Promise<void> {
    await this.api(proc).resume();
  }

  /**
   * Snapshots a running or paused VM into `dir` (absolute; created with mode
   * 0700 if missing, else it must be empty: CH creates its files with
   * O_EXCL). A running VM is paused for the copy and resumed afterwards unless
   * `resume: false`; a VM that was already paused stays paused. CH writes
   * config.json, state.json and memory-ranges (all guest memory, synchronously,
   * within `memoryCopyTimeoutMs`). On failure a dir this call created is removed.
   */
  async snapshot(proc: VmProcess, dir: string, opts: ChSnapshotOptions = {}): Promise<void> {
    absoluteDir(dir, "snapshotDir");
    const created = await ensureEmptyDir(dir);
    const api = this.api(proc);
    let pausedHere = false;
    try {
      const { state } = await api.vmInfo();
      if (state === "Running") {
        await api.pause();
        pausedHere = true;
      } else if (state !== "Paused") {
        throw new VolantError(
          "conflict",
          `VM ${proc.name} is ${state}: only a running or paused VM can be snapshot`,
        );
      }
      await api.snapshot(`file://${dir}`);
    } catch (e) {
      if (created) await removeIfExists(dir, true);
      throw e;
    } finally {
      if (pausedHere && opts.resume !== false) await api.resume();
    }
  }

  /**
   * Restores `spec`'s VM from a snapshot `dir` made by `snapshot` into a new
   * VMM started with only `--api-socket` (and `--event-monitor`): CH refuses
   * vm.restore on a VMM that has a VM. The snapshot's config names the
   * original VM's paths (serial socket and vsock in this runtime dir, disks,
   * TAP), so it restores the same VM (same name and runtime dir) after its
   * VMM has exited; a snapshot of another VM is refused. The VM comes back
   * paused and is resumed unless `resume: false`. Returns the new process,
   * tracked, adoptable and stoppable like a booted one.
   */
  async restore(
    spec: Pick<VmSpec, "name" | "runtimeDir" | "stateDir" | "serialLogMaxBytes">,
    dir: string,
    opts: ChRestoreOptions = {},
  ): Promise<VmProcess> {
    validateSpecDirs(spec, this.roots);
    absoluteDir(dir, "snapshotDir");
    if (this.jail) {
      // A restored VM's files and TAP come from the snapshot's config, which the jail's
      // private root and fd passing do not cover yet: refuse rather than run CH unjailed.
      throw new VolantError(
        "unavailable",
        "restoring a Cloud Hypervisor snapshot under the VMM jail is not supported yet " +
          "(jail = false to restore)",
      );
    }
    await checkSnapshot(dir, spec.runtimeDir);
    const binary = await this.binary();
    const running = await this.liveRecord(spec.runtimeDir);
    if (running) {
      throw new VolantError(
        "conflict",
        `VM ${spec.name} already has a running VMM (pid ${running.pid}): stop it before restoring`,
      );
    }
    const existed = { runtimeDir: await exists(spec.runtimeDir), stateDir: true };
    await Deno.mkdir(spec.runtimeDir, { recursive: true, mode: 0o700 });
    await clearBootFiles(spec.runtimeDir);
    const argv = buildChRestoreArgs({
      binary,
      apiSocket: runtimePath(spec.runtimeDir, "api"),
      eventMonitor: runtimePath(spec.runtimeDir, "events"),
    });
    return await this.launch(spec, argv, {
      existed,
      timeoutMs: this.startTimeoutMs + this.#memoryCopyTimeoutMs,
      ready: async (proc, signal) => {
        const api = this.api(proc);
        await untilAnswers(() => api.ping(), signal);
        await api.restore(`file://${dir}`, { prefault: opts.prefault });
        if (opts.resume !== false) await api.resume();
      },
    });
  }

  protected async binary(): Promise<string> {
    const bin = await resolveBinary(this.#binaryName);
    if (!bin) {
      throw new VolantError("unavailable", `${this.#binaryName} not found (${INSTALL_HINT})`);
    }
    return bin;
  }

  protected buildArgv(binary: string, spec: VmSpec): Promise<string[]> {
    return Promise.resolve(buildChArgs(spec, {
      binary,
      apiSocket: runtimePath(spec.runtimeDir, "api"),
      serialSocket: runtimePath(spec.runtimeDir, "serialSocket"),
      vsockSocket: runtimePath(spec.runtimeDir, "vsock"),
      eventMonitor: runtimePath(spec.runtimeDir, "events"),
      ...(this.jail ? { tapFd: spec.net ? JAILED_TAP_FD : undefined, seccomp: true } : {}),
    }));
  }

  /**
   * CH's vsock is a userspace device whose host end is `vsock.sock` in the runtime dir (bound
   * read-write): its jailed root needs no /dev/vhost-vsock, whatever the spec says.
   */
  protected override spawnExtras(
    spec: LaunchSpec,
  ): Promise<{ extras: SpawnExtras; release: () => void }> {
    return super.spawnExtras({ ...spec, vsock: undefined });
  }

  protected async requestPowerButton(proc: VmProcess): Promise<void> {
    await this.api(proc).powerButton();
  }

  protected async requestQuit(proc: VmProcess): Promise<void> {
    await this.api(proc).shutdownVmm();
  }

  /** Consoles connect to the pump's fan-out; CH's own serial socket has one client, the pump. */
  protected override consoleSocket(runtimeDir: string): string {
    return runtimePath(runtimeDir, "console");
  }

  protected override attachSerial(proc: VmProcess): () => void {
    return startSerialPump({
      vmmSocket: runtimePath(proc.runtimeDir, "serialSocket"),
      logPath: proc.serialLog,
      consoleSocket: proc.serialSocket,
    });
  }

  /** A `vm rebooting` or `guest panic` event ends the VMM (see endAfterGuestReset). */
  protected override watchGuest(proc: VmProcess): () => void {
    let fired = false;
    return watchChEvents(runtimePath(proc.runtimeDir, "events"), (e) => {
      const kind = guestResetKind(e);
      if (!kind || fired) return;
      fired = true;
      this.endAfterGuestReset(proc, kind).catch((err) =>
        console.error(`volant: cannot stop ${proc.name} after a guest ${kind}: ${err}`)
      );
    }, this.#eventPollMs);
  }

  /**
   * Ready = `vm.info` says Running. `vmm.ping` answers as soon as the API
   * thread runs, before CH has parsed the config, created and booted the VM
   * (cloud-hypervisor/src/main.rs, v53.0 l. 734-779); a bad disk or kernel
   * fails after that, and CH exits 1 (which aborts `signal`).
   */
  protected async waitControlReady(socket: string, signal: AbortSignal): Promise<void> {
    const api = new ChApiClient(socket, 1000);
    await untilAnswers(async () => {
      const { state } = await api.vmInfo();
      if (state !== "Running") throw new NotYet(state);
    }, signal);
  }
}

/** A VM state that is not (yet) the one waited for. */
class NotYet extends Error {}

/**
 * Retries `fn` every 20 ms while the API is not up (`unavailable`), has no VM
 * yet (404, or 500 before v53) or the VM is not yet in the wanted state.
 */
async function untilAnswers(fn: () => Promise<unknown>, signal: AbortSignal): Promise<void> {
  while (true) {
    signal.throwIfAborted();
    try {
      await fn();
      return;
    } catch (e) {
      if (!(e instanceof VolantError || e instanceof NotYet)) throw e;
    }
    await sleep(20, signal);
  }
}

function portState(s: ChVmState): VmInfo["state"] {
  switch (s) {
    case "Running":
      return "running";
    case "Paused":
      return "paused";
    // After vm.shutdown CH reports Created (the config stays, the VM is gone).
    case "Created":
    case "Shutdown":
      return "shutdown";
    default:
      return "unknown";
  }
}

function absoluteDir(dir: string, field: string): void {
  if (
    typeof dir !== "string" || !dir.startsWith("/") || /[\n\0]/.test(dir) || dir.includes("/../")
  ) {
    throw new VolantError("invalid_input", `${field} must be an absolute path: ${dir}`, {
      problems: [{ field, message: "must be an absolute directory path without '..'" }],
    });
  }
}

/** Creates `dir` (0700) or checks it is empty; true when this call created it. */
async function ensureEmptyDir(dir: string): Promise<boolean> {
  try {
    await Deno.mkdir(dir, { mode: 0o700 });
    return true;
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) {
      if (e instanceof Deno.errors.NotFound) {
        await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
        return true;
      }
      throw e;
    }
  }
  for await (const entry of Deno.readDir(dir)) {
    throw new VolantError(
      "conflict",
      `snapshot dir ${dir} is not empty (${entry.name}): Cloud Hypervisor will not overwrite a snapshot`,
      { problems: [{ field: "snapshotDir", message: "must be missing or empty" }] },
    );
  }
  return false;
}

/** The snapshot's files exist and its config is this VM's (its sockets are in `runtimeDir`). */
async function checkSnapshot(dir: string, runtimeDir: string): Promise<void> {
  for (const f of SNAPSHOT_FILES) {
    try {
      await Deno.stat(`${dir}/${f}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new VolantError("not_found", `${dir} is not a Cloud Hypervisor snapshot: no ${f}`, {
        problems: [{ field: "snapshotDir", message: `no ${f}` }],
      });
    }
  }
  const config = await Deno.readTextFile(`${dir}/config.json`);
  if (!config.includes(JSON.stringify(`${runtimeDir}/`).slice(1, -1))) {
    throw new VolantError(
      "invalid_input",
      `snapshot ${dir} was not taken from the VM in ${runtimeDir}: it names other sockets`,
      { problems: [{ field: "snapshotDir", message: "a snapshot of another VM" }] },
    );
  }
}
