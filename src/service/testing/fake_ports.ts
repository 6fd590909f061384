/**
 * TEST DOUBLES of our own ports (Hypervisor, HostNetwork), in memory, for
 * the service's unit tests: they record calls and let a test crash a "VMM"
 * at will. The real adapters (src/vmm QEMU driver, src/net netlink) are
 * tested by their owners against real QEMU and real netns; the service's
 * SQLite, HTTP and filesystem parts are real in these tests.
 *
 * @module
 */
import type { HostNetwork, Hypervisor, VmExit, VmInfo, VmProcess, VmSpec } from "../ports.ts";

interface Running {
  proc: VmProcess;
  spec: VmSpec;
  resolve: (exit: VmExit) => void;
  exited: Promise<VmExit>;
}

export class FakeHypervisor implements Hypervisor {
  readonly kind = "qemu" as const;
  unavailableReason: string | null = null;
  /** Throw from the next prepare/boot (once). */
  failPrepare: Error | null = null;
  failBoot: Error | null = null;
  readonly running = new Map<string, Running>();
  readonly calls: string[] = [];
  readonly specs: VmSpec[] = [];
  #pid = 1000;

  available(): Promise<{ ok: true } | { ok: false; reason: string }> {
    return Promise.resolve(
      this.unavailableReason ? { ok: false, reason: this.unavailableReason } : { ok: true },
    );
  }

  extraKernelArgs(): Promise<string[]> {
    return Promise.resolve(["tsc_early_khz=3000000"]);
  }

  prepare(spec: VmSpec): Promise<void> {
    this.calls.push(`prepare ${spec.name}`);
    const e = this.failPrepare;
    this.failPrepare = null;
    return e ? Promise.reject(e) : Promise.resolve();
  }

  boot(spec: VmSpec): Promise<VmProcess> {
    this.calls.push(`boot ${spec.name}`);
    this.specs.push(spec);
    const e = this.failBoot;
    this.failBoot = null;
    if (e) return Promise.reject(e);
    const proc: VmProcess = {
      name: spec.name,
      pid: ++this.#pid,
      startTime: String(this.#pid * 7),
      runtimeDir: spec.runtimeDir,
      serialSocket: `${spec.runtimeDir}/serial.sock`,
      serialLog: `${spec.runtimeDir}/serial.log`,
    };
    let resolve!: (exit: VmExit) => void;
    const exited = new Promise<VmExit>((r) => (resolve = r));
    this.running.set(spec.name, { proc, spec, resolve, exited });
    return Promise.resolve(proc);
  }

  #end(proc: VmProcess, exit: VmExit): void {
    const r = this.running.get(proc.name);
    if (!r || r.proc.pid !== proc.pid) return;
    this.running.delete(proc.name);
    r.resolve(exit);
  }

  shutdown(proc: VmProcess, opts: { graceMs: number }): Promise<void> {
    this.calls.push(`shutdown ${proc.name} ${opts.graceMs}`);
    this.#end(proc, { code: 0, signal: null, requested: true });
    return Promise.resolve();
  }

  kill(proc: VmProcess): Promise<void> {
    this.calls.push(`kill ${proc.name}`);
    this.#end(proc, { code: null, signal: "SIGKILL", requested: true });
    return Promise.resolve();
  }

  info(proc: VmProcess): Promise<VmInfo> {
    return Promise.resolve({ state: this.running.has(proc.name) ? "running" : "shutdown" });
  }

  adopt(name: string, _runtimeDir: string): Promise<VmProcess | null> {
    this.calls.push(`adopt ${name}`);
    return Promise.resolve(this.running.get(name)?.proc ?? null);
  }

  exited(proc: VmProcess): Promise<VmExit> {
    const r = this.running.get(proc.name);
    if (!r || r.proc.pid !== proc.pid) {
      return Promise.resolve({ code: null, signal: null, requested: false });
    }
    return r.exited;
  }

  destroy(spec: Pick<VmSpec, "name" | "runtimeDir" | "stateDir">): Promise<void> {
    this.calls.push(`destroy ${spec.name}`);
    return Promise.resolve();
  }

  /** The VMM dies on its own (not requested); `guest`: the driver ended it after a guest reset. */
  crash(
    name: string,
    code: number | null = 1,
    signal: string | null = null,
    guest?: "reboot" | "panic",
  ): void {
    const r = this.running.get(name);
    if (!r) throw new Error(`fake: ${name} is not running`);
    this.#end(
      r.proc,
      guest ? { code, signal, requested: false, guest } : { code, signal, requested: false },
    );
  }

  /** Forget a VMM without an exit (as if it died while no daemon watched). */
  vanish(name: string): void {
    this.running.delete(name);
  }
}

export class FakeNetwork implements HostNetwork {
  readonly taps = new Map<string, string>();
  readonly calls: string[] = [];
  failTap: Error | null = null;

  ensureBridge(opts: { name: string; gatewayCidr: string }): Promise<void> {
    this.calls.push(`bridge ${opts.name} ${opts.gatewayCidr}`);
    return Promise.resolve();
  }
  ensureNat(opts: { bridge: string; subnet: string }): Promise<void> {
    this.calls.push(`nat ${opts.subnet}`);
    return Promise.resolve();
  }
  removeNat(): Promise<void> {
    return Promise.resolve();
  }
  ensureTap(opts: { name: string; bridge: string }): Promise<void> {
    const e = this.failTap;
    this.failTap = null;
    if (e) return Promise.reject(e);
    this.taps.set(opts.name, opts.bridge);
    return Promise.resolve();
  }
  deleteTap(name: string): Promise<void> {
    this.taps.delete(name);
    return Promise.resolve();
  }
  sweepTaps(owned: ReadonlySet<string>): Promise<string[]> {
    const removed = [...this.taps.keys()].filter((t) => t.startsWith("vtap") && !owned.has(t));
    for (const t of removed) this.taps.delete(t);
    return Promise.resolve(removed);
  }
}
