/**
 * The QEMU driver: `-M microvm` (or q35) with the accelerator the probe chose
 * (src/vmm/accel: KVM only when a bounded boot of the guest kernel under KVM
 * worked, TCG otherwise); QMP for power button, quit, pause/resume and status.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { AccelInfo, VmExit, VmInfo, VmProcess, VmSpec } from "../../service/ports.ts";
import {
  type ControlFile,
  type DetachedDriverOptions,
  DetachedVmmDriver,
  type LaunchSpec,
} from "../detached_driver.ts";
import { sleep } from "../exit_watch.ts";
import { type AccelDecision, AccelResolver, hostAccel } from "../accel/mod.ts";
import { hostTscKhz } from "../host.ts";
import { isSameLiveProcess } from "../proc.ts";
import { DEFAULT_RUNTIME_ROOT, runtimePath } from "../runtime_dir.ts";
import { cgroupParentFor } from "../cgroup.ts";
import { type Jail, type JailStatus, QEMU_SANDBOX } from "../jail.ts";
import { resolveBinary, type SpawnExtras } from "../spawn.ts";
import { JAILED_TAP_FD, JailHooks } from "../jail_hooks.ts";
import { buildQemuArgs } from "./args.ts";
import { qmpExecute, qmpStatus } from "./qmp.ts";

/** QEMU driver options. */
export interface QemuDriverOptions extends DetachedDriverOptions {
  /** qemu-system-x86_64 (name on PATH or absolute path). */
  binary?: string;
  /**
   * The accelerator: a resolver (what volantd passes: its one decision), or
   * `auto` (default) = the host's decision from the config file and env
   * (hostAccel), or `kvm` / `tcg` taken as given without a probe.
   */
  accel?: "auto" | "kvm" | "tcg" | AccelResolver;
  /** The VMM jail (src/vmm/jail.ts): null or absent = QEMU runs as the daemon's user. */
  jail?: Jail | null;
  /** What the jail does here, for system/info (resolveJail's status). */
  jailStatus?: JailStatus;
}

const INSTALL_HINT = "apt-get install qemu-system-x86";

/** Hypervisor port over QEMU. */
export class QemuDriver extends DetachedVmmDriver {
  readonly kind = "qemu" as const;
  protected readonly controlFile: ControlFile = "qmp";
  readonly #binaryName: string;
  readonly #accel: () => Promise<AccelDecision>;
  #availableOk = false;
  #tscArgs?: string[];
  readonly #jail: JailHooks | null;
  /** What the jail does on this host (reported at start and in system/info). */
  readonly jailStatus?: JailStatus;

  constructor(opts: QemuDriverOptions = {}) {
    super(opts);
    this.#binaryName = opts.binary ?? "qemu-system-x86_64";
    this.#accel = accelSource(opts.accel ?? "auto");
    this.jailStatus = opts.jailStatus;
    this.#jail = opts.jail
      ? new JailHooks(opts.jail, cgroupParentFor(this.roots.runtimeRoot, DEFAULT_RUNTIME_ROOT))
      : null;
  }

  override async prepare(spec: VmSpec): Promise<void> {
    await super.prepare(spec);
    await this.#jail?.prepare(spec);
  }

  override async boot(spec: VmSpec): Promise<VmProcess> {
    const proc = await super.boot(spec);
    this.#jail?.releaseAt(proc.name, this.exited(proc));
    return proc;
  }

  override async adopt(name: string, runtimeDir: string): Promise<VmProcess | null> {
    const proc = await super.adopt(name, runtimeDir);
    if (proc) this.#jail?.releaseAt(proc.name, this.exited(proc));
    return proc;
  }

  override async destroy(spec: Pick<VmSpec, "name" | "runtimeDir" | "stateDir">): Promise<void> {
    await super.destroy(spec);
    await this.#jail?.release(spec.name);
  }

  /** The exit, marked `oom` when the VMM died at its cgroup's memory limit. */
  override exited(proc: VmProcess): Promise<VmExit> {
    const base = super.exited(proc);
    return this.#jail ? this.#jail.exited(proc, base) : base;
  }

  protected override async spawnExtras(
    spec: LaunchSpec,
  ): Promise<{ extras: SpawnExtras; release: () => void }> {
    if (!this.#jail) return { extras: {}, release: () => {} };
    return await this.#jail.spawnExtras(spec, await this.accel());
  }

  async available(): Promise<{ ok: true } | { ok: false; reason: string }> {
    // Asked on every VM start and system/info: probe QEMU once it has said yes. A "no" is
    // not kept, so installing QEMU later works without restarting the daemon.
    if (this.#availableOk) return { ok: true };
    const result = await this.#probe();
    this.#availableOk = result.ok;
    return result;
  }

  async #probe(): Promise<{ ok: true } | { ok: false; reason: string }> {
    const bin = await resolveBinary(this.#binaryName);
    if (!bin) return { ok: false, reason: `${this.#binaryName} not found (${INSTALL_HINT})` };
    const out = await new Deno.Command(bin, { args: ["-machine", "help"], stdout: "piped" })
      .output();
    const machines = new TextDecoder().decode(out.stdout);
    if (!/^microvm\s/m.test(machines)) {
      return { ok: false, reason: `${bin} has no microvm machine (QEMU >= 4.2 needed)` };
    }
    return { ok: true };
  }

  /** The accelerator this driver uses on this host. */
  async accel(): Promise<"kvm" | "tcg"> {
    return (await this.#accel()).accel;
  }

  /** The decision behind {@linkcode accel}, with its reason (shown in system info). */
  async accelerator(): Promise<AccelInfo> {
    const { provisional: _, ...info } = await this.#accel();
    return info;
  }

  /**
   * Kernel arguments the service must add: under TCG the guest needs the host
   * TSC frequency or a busy host hangs it at TSC calibration.
   */
  async extraKernelArgs(): Promise<string[]> {
    if ((await this.accel()) === "kvm") return [];
    // The host's TSC rate does not change while we run: read /proc/cpuinfo once.
    this.#tscArgs ??= await hostTscKhz().then((khz) => khz ? [`tsc_early_khz=${khz}`] : []);
    return this.#tscArgs;
  }

  async info(proc: VmProcess): Promise<VmInfo> {
    if (!(await isSameLiveProcess(proc))) return { state: "shutdown" };
    const st = await qmpStatus(this.controlSocket(proc));
    const state = st.status === "running"
      ? "running"
      : st.status === "paused" || st.status === "suspended"
      ? "paused"
      : st.status === "shutdown"
      ? "shutdown"
      : "unknown";
    return { state, raw: st };
  }

  async pause(proc: VmProcess): Promise<void> {
    await qmpExecute(this.controlSocket(proc), "stop");
  }

  async resume(proc: VmProcess): Promise<void> {
    await qmpExecute(this.controlSocket(proc), "cont");
  }

  protected async binary(): Promise<string> {
    const bin = await resolveBinary(this.#binaryName);
    if (!bin) {
      throw new VolantError("unavailable", `${this.#binaryName} not found (${INSTALL_HINT})`);
    }
    return bin;
  }

  protected async buildArgv(binary: string, spec: VmSpec): Promise<string[]> {
    return buildQemuArgs(spec, {
      binary,
      accel: await this.accel(),
      qmpSocket: runtimePath(spec.runtimeDir, "qmp"),
      serialSocket: runtimePath(spec.runtimeDir, "serialSocket"),
      serialLog: runtimePath(spec.runtimeDir, "serialLog"),
      // Jailed: the TAP arrives as fd 3 (spawnExtras) and the seccomp sandbox is on.
      ...(this.#jail ? { tapFd: spec.net ? JAILED_TAP_FD : undefined, sandbox: QEMU_SANDBOX } : {}),
    });
  }

  protected async requestPowerButton(proc: VmProcess): Promise<void> {
    // Delivers an ACPI power-button event; the guest's PID 1 decides to power off.
    await qmpExecute(this.controlSocket(proc), "system_powerdown");
  }

  protected async requestQuit(proc: VmProcess): Promise<void> {
    await qmpExecute(this.controlSocket(proc), "quit", undefined, { eofIsOk: true });
  }

  protected async waitControlReady(socket: string, signal: AbortSignal): Promise<void> {
    // QEMU creates the QMP socket before the guest runs; one query-status proves it answers.
    while (true) {
      signal.throwIfAborted();
      try {
        await qmpStatus(socket);
        return;
      } catch (e) {
        if (!(e instanceof VolantError && e.code === "unavailable")) throw e;
      }
      await sleep(10, signal);
    }
  }
}

/** Where the driver's decision comes from, per the `accel` option. */
function accelSource(accel: NonNullable<QemuDriverOptions["accel"]>): () => Promise<AccelDecision> {
  if (accel instanceof AccelResolver) return () => accel.decision();
  if (accel === "auto") return hostAccel;
  const fixed: AccelDecision = {
    mode: accel,
    accel,
    reason: `${accel} given to the driver; not probed`,
    probedAt: null,
    probeMs: null,
    cached: false,
    provisional: false,
  };
  return () => Promise.resolve(fixed);
}
