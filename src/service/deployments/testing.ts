/**
 * TEST DOUBLES of the controller's own ports (ReplicaVms, HealthProbe,
 * Clock), in memory, for fast unit tests of the planner and controller. The
 * real VmService under them is tested by its owner (and end to end with QEMU
 * in tests/e2e/deployments_test.ts); SQLite stays real in these tests.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type {
  CreateVmBody,
  VersionedVmConfig,
  VmConfigPatch,
  VmHealth,
  VmRecord,
  VmState,
  VolantEvent,
} from "../../manifest/api.ts";
import { parseManifest } from "../../manifest/mod.ts";
import type { Clock, HealthProbe, ReplicaVms } from "./ports.ts";

/** A clock whose time moves only when the test says so. */
export class ManualClock implements Clock {
  #now = 1_000_000;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #id = 0;

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#id;
    this.#timers.set(id, { at: this.#now + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    while (true) {
      const due = [...this.#timers.entries()].filter(([, t]) => t.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = Math.max(this.#now, due[1].at);
      due[1].fn();
    }
    this.#now = end;
  }
}

/** In-memory VMs with a small IP pool; a test moves their state by hand. */
export class FakeVms implements ReplicaVms {
  readonly vms = new Map<string, VmRecord>();
  readonly calls: string[] = [];
  /** Every create body, in order. */
  readonly bodies: CreateVmBody[] = [];
  readonly env = new Map<string, Record<string, string>>();
  /** New VMs come up `running` with this health (`starting` = the test makes them healthy). */
  bootHealth: VmHealth = "healthy";
  /** Thrown by the next creates while set. */
  failCreate: Error | null = null;
  #free: number[];
  #id = 0;
  #listeners: ((e: VolantEvent) => void)[] = [];

  constructor(poolSize = 20) {
    this.#free = Array.from({ length: poolSize }, (_, i) => i + 2);
  }

  /** IPs in use. */
  leased(): string[] {
    return [...this.vms.values()].map((v) => v.ip);
  }

  onEvent(fn: (e: VolantEvent) => void): void {
    this.#listeners.push(fn);
  }

  #emit(type: VolantEvent["type"], name: string): void {
    const e: VolantEvent = {
      id: ++this.#id,
      type,
      resource_type: "vm",
      resource: name,
      time: new Date(0).toISOString(),
      data: {},
    };
    for (const fn of this.#listeners) fn(e);
  }

  find(name: string): VmRecord | undefined {
    const vm = this.vms.get(name);
    return vm ? { ...vm } : undefined;
  }

  create(body: CreateVmBody): Promise<VmRecord> {
    this.calls.push(`create ${body.name}`);
    this.bodies.push(body);
    if (this.failCreate) return Promise.reject(this.failCreate);
    if (this.vms.has(body.name)) {
      return Promise.reject(new VolantError("conflict", `vm ${body.name} already exists`));
    }
    this.#free.sort((a, b) => a - b);
    const last = this.#free.shift();
    if (last === undefined) {
      return Promise.reject(new VolantError("exhausted", "address pool is exhausted"));
    }
    const started = body.start !== false;
    const vm: VmRecord = {
      id: ++this.#id,
      name: body.name,
      state: started ? "running" : "created",
      plugin: body.plugin,
      runtime: body.plugin,
      ip: `192.168.127.${last}`,
      mac: "02:00:00:00:00:00",
      cpu_cores: body.cpu_cores ?? 1,
      memory_mb: body.memory_mb ?? 128,
      resources: { cpu_cores: body.cpu_cores ?? 1, memory_mb: body.memory_mb ?? 128 },
      tap: `vtap${this.#id}`,
      machine: body.machine ?? "microvm",
      restart_policy: body.restart_policy ?? "never",
      health: started ? this.bootHealth : "unknown",
      kernel_cmdline: body.kernel_cmdline ?? "",
      restarts: 0,
      created_at: new Date(0).toISOString(),
      updated_at: new Date(0).toISOString(),
    };
    this.vms.set(body.name, vm);
    this.#emit("vm.created", body.name);
    return Promise.resolve({ ...vm });
  }

  start(name: string): Promise<VmRecord> {
    this.calls.push(`start ${name}`);
    const vm = this.vms.get(name);
    if (!vm) return Promise.reject(new VolantError("not_found", `vm ${name} not found`));
    vm.state = "running";
    vm.health = this.bootHealth;
    return Promise.resolve({ ...vm });
  }

  delete(name: string): Promise<void> {
    this.calls.push(`delete ${name}`);
    const vm = this.vms.get(name);
    if (!vm) return Promise.reject(new VolantError("not_found", `vm ${name} not found`));
    this.vms.delete(name);
    this.#free.push(Number(vm.ip.split(".")[3]));
    this.#emit("vm.deleted", name);
    return Promise.resolve();
  }

  getConfig(name: string): VersionedVmConfig {
    const vm = this.vms.get(name);
    if (!vm) throw new VolantError("not_found", `vm ${name} not found`);
    return {
      version: 1,
      updated_at: vm.updated_at,
      config: {
        plugin: vm.plugin,
        runtime: vm.runtime,
        kernel_cmdline: "",
        resources: { cpu_cores: vm.cpu_cores, memory_mb: vm.memory_mb },
        machine: vm.machine,
        restart_policy: vm.restart_policy,
        manifest: parseManifest({
          name: vm.plugin,
          version: "1.0",
          initramfs: { url: "https://example.test/i.cpio", checksum: "c".repeat(64) },
          resources: { cpu_cores: 1, memory_mb: 128 },
          workload: { type: "http", base_url: "http://127.0.0.1:80", entrypoint: ["/x"] },
        }),
      },
    };
  }

  patchConfig(name: string, patch: VmConfigPatch): Promise<VersionedVmConfig> {
    this.calls.push(`patch ${name}`);
    const workload = (patch.manifest as { workload?: { env?: Record<string, string> } })?.workload;
    if (workload?.env) this.env.set(name, workload.env);
    return Promise.resolve(this.getConfig(name));
  }

  /** Test hooks: move a VM to a state, as the supervisor would. */
  set(name: string, state: VmState, health?: VmHealth): void {
    const vm = this.vms.get(name);
    if (!vm) throw new Error(`no vm ${name}`);
    vm.state = state;
    if (health) vm.health = health;
    this.#emit(state === "crashed" ? "vm.crashed" : "vm.healthy", name);
  }

  /** A VM vanishing behind the controller's back (its row deleted elsewhere). */
  vanish(name: string): void {
    const vm = this.vms.get(name);
    if (!vm) throw new Error(`no vm ${name}`);
    this.vms.delete(name);
    this.#free.push(Number(vm.ip.split(".")[3]));
    this.#emit("vm.deleted", name);
  }
}

/** Probes answer from a set of unhealthy IPs. */
export class FakeProbe implements HealthProbe {
  readonly failing = new Set<string>();
  healthy(ip: string): Promise<boolean> {
    return Promise.resolve(!this.failing.has(ip));
  }
}
