/**
 * The QEMU driver: `-M microvm` (or q35) with the accelerator the probe chose
 * (src/vmm/accel: KVM only when a bounded boot of the guest kernel under KVM
 * worked, TCG otherwise); QMP for power button, quit, pause/resume and status.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { AccelInfo, VmInfo, VmProcess, VmSpec } from "../../service/ports.ts";
import {
  type ControlFile,
  type DetachedDriverOptions,
  DetachedVmmDriver,
} from "../detached_driver.ts";
import { sleep } from "../exit_watch.ts";
import { type AccelDecision, AccelResolver, hostAccel } from "../accel/mod.ts";
import { hostTscKhz } from "../host.ts";
import { isSameLiveProcess } from "../proc.ts";
import { clearBootFiles, runtimePath, validateSpecDirs } from "../runtime_dir.ts";
import { QEMU_SANDBOX } from "../jail.ts";
import { resolveBinary } from "../spawn.ts";
import { JAILED_TAP_FD } from "../jail_hooks.ts";
import { buildQemuArgs } from "./args.ts";
import { qmpExecute, qmpStatus } from "./qmp.ts";
import { loadState, saveState } from "./migration.ts";
import {
  checkImageSize,
  copySparse,
  RAM_IMAGE_FILE,
  ramFdPath,
  readFormat,
  SNAPSHOT_FORMAT,
  writeFormat,
} from "./ram_image.ts";

/** The VM state file inside a snapshot dir (QEMU's migration stream). */
export const QEMU_STATE_FILE = "qemu-state.bin";

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
}

const INSTALL_HINT = "apt-get install qemu-system-x86";

/** Hypervisor port over QEMU. */
export class QemuDriver extends DetachedVmmDriver {
  readonly kind = "qemu" as const;
  readonly agentChannel = true;
  protected readonly controlFile: ControlFile = "qmp";
  readonly #binaryName: string;
  readonly #accel: () => Promise<AccelDecision>;
  #availableOk = false;
  #tscArgs?: string[];
  #version?: { key: string; line: string };

  constructor(opts: QemuDriverOptions = {}) {
    super(opts);
    this.#binaryName = opts.binary ?? "qemu-system-x86_64";
    this.#accel = accelSource(opts.accel ?? "auto");
  }

  /** The jail binds /dev/kvm into the VMM's root only when QEMU runs on KVM. */
  protected override jailAccel(): Promise<"kvm" | "tcg"> {
    return this.accel();
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
      // postmigrate: stopped after a snapshot's save; inmigrate/prelaunch: loading one.
      : ["paused", "suspended", "postmigrate", "inmigrate", "prelaunch"].includes(st.status)
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

  /** `qemu-system-x86_64 --version`'s first line plus the accelerator: a snapshot's VMM identity. */
  async version(): Promise<string> {
    const bin = await this.binary();
    // Asked on every restore: run the binary again only when it changed (an upgrade in place).
    const st = await Deno.stat(bin);
    const key = `${bin}|${st.ino}|${st.mtime?.getTime()}`;
    if (this.#version?.key !== key) {
      const out = await new Deno.Command(bin, { args: ["--version"], stdout: "piped" }).output();
      this.#version = { key, line: new TextDecoder().decode(out.stdout).split("\n")[0].trim() };
    }
    // The device layout is part of what a snapshot's state fits: since 2026-12-04 the agent
    // channel sits on PCI (microvm pcie=on), so older snapshots are refused, not mis-restored.
    return `${this.#version.line}; accel ${await this.accel()}; agent channel on pci`;
  }

  /**
   * Saves a running or paused VM into `dir`: device state in
   * `qemu-state.bin` (QMP migration over a unix socket, see migration.ts)
   * and, for a VM booted with its RAM in a memfd (every boot since format 2),
   * the RAM as `guest-ram.bin`, copied while the VM is stopped (format 2,
   * ram_image.ts). A VM booted before keeps RAM in the stream (format 1).
   * The VM is resumed afterwards unless `resume: false`, in which case it
   * stays stopped with its disks flushed (the caller copies overlays, then
   * resumes or stops it).
   */
  async snapshot(proc: VmProcess, dir: string, opts: { resume?: boolean } = {}): Promise<void> {
    const qmp = this.controlSocket(proc);
    const { state } = await this.info(proc);
    if (state !== "running" && state !== "paused") {
      throw new VolantError("conflict", `VM ${proc.name} is ${state}: cannot snapshot it`);
    }
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const ramFd = await ramFdPath(proc.pid);
    try {
      await saveState(qmp, `${proc.runtimeDir}/migrate.sock`, `${dir}/${QEMU_STATE_FILE}`, {
        ignoreShared: ramFd !== null,
      });
      if (ramFd) {
        // Stopped ("postmigrate") since the save: the copy is the RAM the device state goes with.
        const bytes = await copySparse(ramFd, `${dir}/${RAM_IMAGE_FILE}`);
        if (this.jail) {
          // What a jailed restore needs (jail.ts prepareVm), granted now: granted then, it
          // would move the image's ctime and cost the next restore a full re-hash.
          await Deno.chown(`${dir}/${RAM_IMAGE_FILE}`, null, this.jail.jail.gid);
          await Deno.chmod(`${dir}/${RAM_IMAGE_FILE}`, 0o660);
        }
        await writeFormat(dir, { format: SNAPSHOT_FORMAT, memory_mb: bytes / 1048576 });
      }
    } finally {
      if (opts.resume !== false && state === "running") await qmpExecute(qmp, "cont");
    }
  }

  /**
   * Starts a new QEMU for `spec` (the same command line as its boot, plus
   * `-incoming defer -S`) and loads `dir/qemu-state.bin` into it; a format-2
   * snapshot's `guest-ram.bin` is mapped copy-on-write as guest RAM instead
   * of being streamed in. The VM
   * comes back exactly where it was saved: same memory, devices, MAC, uptime.
   * It is resumed unless `resume: false`. A stream QEMU cannot load ends the
   * new VMM and fails here; nothing is left running.
   */
  async restore(spec: VmSpec, dir: string, opts: { resume?: boolean } = {}): Promise<VmProcess> {
    validateSpecDirs(spec, this.roots);
    const file = `${dir}/${QEMU_STATE_FILE}`;
    await Deno.stat(file).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      throw new VolantError("not_found", `${dir} holds no QEMU state (${QEMU_STATE_FILE})`);
    });
    const format = await readFormat(dir);
    if (format.format === SNAPSHOT_FORMAT) {
      if (format.memory_mb !== spec.memoryMb) {
        throw new VolantError(
          "conflict",
          `the snapshot holds ${format.memory_mb} MiB of RAM, VM ${spec.name} has ${spec.memoryMb} MiB`,
        );
      }
      const ramImage = `${dir}/${RAM_IMAGE_FILE}`;
      await checkImageSize(ramImage, spec.memoryMb);
      spec = { ...spec, ramImage };
    }
    const binary = await this.binary();
    const existed = { runtimeDir: await pathExists(spec.runtimeDir), stateDir: true };
    await this.prepare(spec);
    const running = await this.liveRecord(spec.runtimeDir);
    if (running) {
      throw new VolantError(
        "conflict",
        `VM ${spec.name} already has a running VMM (pid ${running.pid}): stop it before restoring`,
      );
    }
    await clearBootFiles(spec.runtimeDir);
    const argv = [...await this.buildArgv(binary, spec), "-incoming", "defer", "-S"];
    const proc = await this.launch(spec, argv, {
      existed,
      timeoutMs: this.startTimeoutMs + 600_000,
      ready: async (p, signal) => {
        const qmp = this.controlSocket(p);
        await this.waitControlReady(qmp, signal);
        await loadState(qmp, `${spec.runtimeDir}/migrate-in.sock`, file, signal, {
          ignoreShared: spec.ramImage !== undefined,
        });
        if (opts.resume !== false) await qmpExecute(qmp, "cont");
      },
    });
    return proc;
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
      ramImage: spec.ramImage,
      // Jailed: the TAP arrives as fd 3 (spawnExtras) and the seccomp sandbox is on.
      ...(this.jail ? { tapFd: spec.net ? JAILED_TAP_FD : undefined, sandbox: QEMU_SANDBOX } : {}),
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

async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
