/**
 * The Cloud Hypervisor driver (production VMM, KVM only). Boots with the
 * documented command line, controls the VM through the REST API on its api
 * socket, and copies the serial socket into serial.log.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { VmInfo, VmProcess, VmSpec } from "../../service/ports.ts";
import {
  type ControlFile,
  type DetachedDriverOptions,
  DetachedVmmDriver,
} from "../detached_driver.ts";
import { sleep } from "../exit_watch.ts";
import { checkKvmDevice } from "../accel/kvm_device.ts";
import { isSameLiveProcess } from "../proc.ts";
import { runtimePath } from "../runtime_dir.ts";
import { resolveBinary } from "../spawn.ts";
import { ChApiClient } from "./api_client.ts";
import { buildChArgs } from "./args.ts";
import { startSerialPump } from "./serial_pump.ts";

/** Cloud Hypervisor driver options. */
export interface CloudHypervisorDriverOptions extends DetachedDriverOptions {
  /** cloud-hypervisor (name on PATH or absolute path). */
  binary?: string;
  /** Skip the /dev/kvm check (only for the contract-fake VMM in tests). */
  skipKvmCheck?: boolean;
}

const INSTALL_HINT = "install a static release from " +
  "https://github.com/cloud-hypervisor/cloud-hypervisor/releases into /usr/local/bin";

/** Hypervisor port over Cloud Hypervisor. */
export class CloudHypervisorDriver extends DetachedVmmDriver {
  readonly kind = "cloud-hypervisor" as const;
  protected readonly controlFile: ControlFile = "api";
  readonly #binaryName: string;
  readonly #skipKvmCheck: boolean;

  constructor(opts: CloudHypervisorDriverOptions = {}) {
    super(opts);
    this.#binaryName = opts.binary ?? "cloud-hypervisor";
    this.#skipKvmCheck = opts.skipKvmCheck ?? false;
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

  /** CH needs nothing extra on the cmdline (KVM, real TSC). */
  extraKernelArgs(): Promise<string[]> {
    return Promise.resolve([]);
  }

  /** The API client for a VM (snapshot/restore and anything beyond the port). */
  api(proc: Pick<VmProcess, "runtimeDir">): ChApiClient {
    return new ChApiClient(this.controlSocket(proc));
  }

  async info(proc: VmProcess): Promise<VmInfo> {
    if (!(await isSameLiveProcess(proc))) return { state: "shutdown" };
    const info = await this.api(proc).vmInfo();
    const state = info.state === "Running"
      ? "running"
      : info.state === "Paused"
      ? "paused"
      : info.state === "Shutdown"
      ? "shutdown"
      : "unknown";
    return { state, raw: info };
  }

  async pause(proc: VmProcess): Promise<void> {
    await this.api(proc).pause();
  }

  async resume(proc: VmProcess): Promise<void> {
    await this.api(proc).resume();
  }

  /** Pauses, snapshots to `destinationUrl` (file://...), and resumes. */
  async snapshot(proc: VmProcess, destinationUrl: string): Promise<void> {
    const api = this.api(proc);
    await api.pause();
    try {
      await api.snapshot(destinationUrl);
    } finally {
      await api.resume();
    }
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
      vsockSocket: `${spec.runtimeDir}/vsock.sock`,
    }));
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

  protected async waitControlReady(socket: string, signal: AbortSignal): Promise<void> {
    const api = new ChApiClient(socket, 1000);
    while (true) {
      signal.throwIfAborted();
      try {
        await api.ping();
        return;
      } catch (e) {
        if (!(e instanceof VolantError && e.code === "unavailable")) throw e;
      }
      await sleep(20, signal);
    }
  }
}
