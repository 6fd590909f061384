/**
 * VM lifecycle: create, start, stop, restart, delete, config. Every change
 * writes the new state before its side effect (so a crash anywhere leaves a
 * row the reconciler understands), every failure undoes the side effects it
 * made (TAP deleted, VMM killed), and operations on one VM are serialised.
 * Supervision (exit watching, restart policy, health, adoption at start)
 * lives in supervisor.ts and calls back in through {@linkcode VmLifecycle}.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import {
  type CreateVmBody,
  CreateVmBodySchema,
  type VersionedVmConfig,
  type VmConfig,
  type VmConfigHistoryEntry,
  type VmConfigPatch,
  VmConfigPatchSchema,
  type VmList,
  type VmListQuery,
  type VmRecord,
  type VmState,
} from "../manifest/api.ts";
import { parseOrThrow } from "../manifest/mod.ts";
import { assembleCmdline } from "./cmdline.ts";
import type { VmConsoleTarget, VmServiceApi } from "./contracts.ts";
import type { ServiceContext } from "./context.ts";
import { formatIpv4, type Ipam, macFor } from "./ipam.ts";
import { KeyedMutex } from "./locks.ts";
import type { HostNetwork, Hypervisor, VmProcess } from "./ports.ts";
import { assertAllowed, assertTransition } from "./state_machine.ts";
import type { VmPatch, VmRow } from "./store_port.ts";
import { Supervisor } from "./supervisor.ts";
import { initialConfig, mergeConfigPatch } from "./vm_config.ts";
import { assertHostCanHonour, pciAddresses, prepareSeed } from "./host_fields.ts";
import { assertBootFiles, buildVmSpec, vmRuntimeDir, vmStateDir } from "./vm_spec.ts";

/** The API view of a row: internal bookkeeping fields dropped. */
export function toRecord(row: VmRow): VmRecord {
  const { desired: _d, pid_start_time: _p, artifacts: _a, ...record } = row;
  return { ...record, resources: { cpu_cores: row.cpu_cores, memory_mb: row.memory_mb } };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What the supervisor may do to VMs (all with the VM's lock held by the caller). */
export interface VmLifecycle {
  readonly ctx: ServiceContext;
  readonly procs: Map<string, VmProcess>;
  locked<T>(name: string, fn: () => Promise<T>): Promise<T>;
  setState(name: string, to: VmState, patch?: VmPatch): VmRow;
  startLocked(name: string, automatic: boolean): Promise<VmRow>;
  finishStop(row: VmRow, graceMs: number): Promise<VmRow>;
  finishDelete(row: VmRow, reason?: string): Promise<void>;
  /** True while a stop or delete asked for this VM's VMM to go away. */
  stopRequested(name: string): boolean;
  /** Enforces the VM's egress/isolation policy (see VmService.applyNetPolicy). */
  applyNetPolicy(row: VmRow, config: VmConfig): Promise<void>;
}

export class VmService implements VmServiceApi, VmLifecycle {
  readonly ctx: ServiceContext;
  readonly procs = new Map<string, VmProcess>();
  readonly supervisor: Supervisor;
  readonly #ipam: Ipam;
  readonly #locks = new KeyedMutex();
  readonly #stopping = new Set<string>();
  readonly #afterDelete: () => Promise<void>;

  constructor(
    ctx: ServiceContext,
    ipam: Ipam,
    afterDelete: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.ctx = ctx;
    this.#ipam = ipam;
    this.#afterDelete = afterDelete;
    this.supervisor = new Supervisor(this);
  }

  // ------------------------------------------------------------ reads

  list(query: VmListQuery): VmList {
    const { items, total } = this.ctx.store.vms.list(query);
    return { items: items.map(toRecord), total, limit: query.limit, offset: query.offset };
  }

  get(name: string): VmRecord {
    return toRecord(this.#row(name));
  }

  #row(name: string): VmRow {
    const vm = this.ctx.store.vms.get(name);
    if (!vm) throw new VolantError("not_found", `vm ${name} not found`);
    return vm;
  }

  console(name: string): VmConsoleTarget {
    const row = this.#row(name);
    const proc = this.procs.get(name);
    return {
      name,
      state: row.state,
      serialSocket: proc?.serialSocket ?? row.serial_socket,
      serialLog: proc?.serialLog ?? `${vmRuntimeDir(this.ctx.options, name)}/serial.log`,
    };
  }

  // ------------------------------------------------------------ helpers

  locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.#locks.run(name, fn);
  }

  stopRequested(name: string): boolean {
    return this.#stopping.has(name);
  }

  /** Writes a state change the state machine allows (plus other fields). */
  setState(name: string, to: VmState, patch: VmPatch = {}): VmRow {
    const { store, now } = this.ctx;
    return store.tx(() => {
      const row = this.#row(name);
      if (row.state !== to) assertTransition(row.state, to, name);
      return store.vms.update(name, { ...patch, state: to }, now().toISOString());
    });
  }

  #ports(): { hypervisor: Hypervisor; network: HostNetwork } {
    const { hypervisor, network } = this.ctx;
    if (!hypervisor) {
      throw new VolantError(
        "unavailable",
        "cannot start VMs: no hypervisor driver is configured (set --hypervisor qemu|cloud-hypervisor)",
        { details: { missing: "hypervisor" } },
      );
    }
    if (!network) {
      throw new VolantError(
        "unavailable",
        "cannot start VMs: host networking is not available (bridge/TAP support missing)",
        { details: { missing: "network" } },
      );
    }
    return { hypervisor, network };
  }

  // ------------------------------------------------------------ create

  /** Driver, host network and boot files usable: the checks a start makes before acting. */
  async #preflight(config: VmConfig): Promise<void> {
    const { hypervisor } = this.#ports();
    await assertBootFiles(config.manifest, config.plugin, this.ctx.options);
    await assertUsable(hypervisor);
  }

  async create(input: CreateVmBody): Promise<VmRecord> {
    const body = parseOrThrow(CreateVmBodySchema, input, "VM");
    const { store, events, now } = this.ctx;
    const plugin = store.plugins.get(body.plugin);
    if (!plugin) {
      throw new VolantError("not_found", `plugin ${body.plugin} not found`, {
        problems: [{ field: "plugin", message: `plugin ${body.plugin} is not installed` }],
      });
    }
    if (!plugin.enabled) {
      throw new VolantError("conflict", `plugin ${body.plugin} is disabled`, {
        problems: [{ field: "plugin", message: `plugin ${body.plugin} is disabled` }],
      });
    }
    const config = initialConfig(body, plugin, { machine: this.ctx.options.machine });
    // A field this host cannot honour is refused now, naming it, never ignored at boot.
    await assertHostCanHonour(this.ctx, config);
    // What the boot will need is checked before the lease is taken: a create
    // that cannot boot must not hold an address while it fails.
    if (body.start !== false) await this.#preflight(config);
    const row = store.tx(() => {
      if (store.vms.get(body.name)) {
        throw new VolantError("conflict", `vm ${body.name} already exists`, {
          problems: [{ field: "name", message: `vm ${body.name} already exists` }],
        });
      }
      const time = now().toISOString();
      const free = this.#ipam.next();
      const ip = formatIpv4(free);
      const inserted = store.vms.insert({
        name: body.name,
        state: "created",
        desired: body.start === false ? "stopped" : "running",
        plugin: plugin.name,
        runtime: plugin.runtime,
        ip,
        mac: macFor(body.name, ip),
        cpu_cores: config.resources.cpu_cores,
        memory_mb: config.resources.memory_mb,
        machine: config.machine,
        restart_policy: config.restart_policy,
        health: "unknown",
        kernel_cmdline: config.kernel_cmdline,
        restarts: 0,
        artifacts: plugin.artifacts,
      }, time);
      store.leases.insert(free, inserted.id, time);
      store.configs.put(inserted.id, config, time);
      return inserted;
    });
    events.publish("vm.created", "vm", row.name, {
      name: row.name,
      plugin: row.plugin,
      ip: row.ip,
      mac: row.mac,
      tap: row.tap,
    });
    if (body.start === false) return toRecord(row);
    try {
      return await this.start(body.name);
    } catch (error) {
      // A create that cannot boot leaves nothing behind: row, lease and dirs go.
      await this.locked(body.name, async () => {
        const current = store.vms.get(body.name);
        if (current) await this.finishDelete(current, "boot failed during create");
      });
      throw error;
    }
  }

  // ------------------------------------------------------------ start

  start(name: string): Promise<VmRecord> {
    return this.locked(name, async () => {
      this.supervisor.cancelRestart(name, true);
      return toRecord(await this.startLocked(name, false));
    });
  }

  /**
   * Enforces the VM's `network.egress` / `network.isolation` (bridged mode,
   * before its VMM runs; again for an adopted VMM). Cleared with its TAP.
   */
  async applyNetPolicy(row: VmRow, config: VmConfig): Promise<void> {
    const net = config.network;
    if (!this.ctx.network?.applyVmPolicy || (net?.mode ?? "bridged") !== "bridged") return;
    const egress = net?.egress ?? "allow-all";
    const isolation = net?.isolation ?? false;
    if (egress === "allow-all" && !isolation) return; // the default: no rule at all
    await this.ctx.network.applyVmPolicy({ tap: row.tap, ip: row.ip, egress, isolation });
  }

  async startLocked(name: string, automatic: boolean): Promise<VmRow> {
    const { store, events, options } = this.ctx;
    let row = this.#row(name);
    assertAllowed("start", row.state, name);
    const { hypervisor, network } = this.#ports();
    const config = store.configs.get(row.id)?.config;
    if (!config) throw new VolantError("internal", `vm ${name} has no config row`);
    const driverArgs = await hypervisor.extraKernelArgs?.() ?? [];
    const spec = await buildVmSpec({
      vm: row,
      config,
      options,
      pool: this.#ipam.pool,
      driverArgs,
    });
    await assertUsable(hypervisor);
    await assertHostCanHonour(this.ctx, config);

    row = this.setState(name, "starting", {
      desired: "running",
      last_error: null,
      health: "unknown",
      restarts: automatic ? row.restarts + 1 : 0,
    });
    events.publish("vm.starting", "vm", name, { automatic, attempt: row.restarts });
    const polled = Boolean(this.ctx.guest && spec.net) &&
      (config.network?.mode ?? "bridged") === "bridged";
    let proc: VmProcess | undefined;
    try {
      if (spec.net) await network.ensureTap({ name: spec.net.tap, bridge: options.bridge });
      await this.applyNetPolicy(row, config);
      const seed = await prepareSeed(this.ctx, config, row, spec.runtimeDir);
      if (seed) spec.disks.push(seed);
      const pci = pciAddresses(config);
      if (pci.length > 0 && this.ctx.pci) {
        spec.pciDevices = (await this.ctx.pci.bind(name, pci)).map((b) => b.address);
      }
      await hypervisor.prepare(spec);
      proc = await hypervisor.boot(spec);
      this.procs.set(name, proc);
      row = this.setState(name, "running", {
        pid: proc.pid,
        pid_start_time: proc.startTime,
        serial_socket: proc.serialSocket,
        health: polled ? "starting" : "unknown",
      });
    } catch (error) {
      await this.#rollbackStart(name, row, proc, error);
      throw error;
    }
    // vm.started is the documented name (Volant's); vm.running stays as our documented extra.
    events.publish("vm.started", "vm", name, { name, state: "running", ip: row.ip, pid: proc.pid });
    events.publish("vm.running", "vm", name, { pid: proc.pid, ip: row.ip, automatic });
    this.supervisor.watch(name, proc);
    if (polled) this.supervisor.pollHealth(row);
    return row;
  }

  /** Undo a failed start: kill the VMM if it came up, delete the TAP, record why. */
  async #rollbackStart(
    name: string,
    row: VmRow,
    proc: VmProcess | undefined,
    error: unknown,
  ): Promise<void> {
    const { hypervisor, network, log, events } = this.ctx;
    this.procs.delete(name);
    const problems: string[] = [];
    if (proc && hypervisor) {
      this.#stopping.add(name);
      await hypervisor.kill(proc).catch((e) => problems.push(`kill: ${message(e)}`));
      this.#stopping.delete(name);
    }
    await network?.deleteTap(row.tap).catch((e) => problems.push(`tap: ${message(e)}`));
    await this.ctx.pci?.restore(name).catch((e) => problems.push(`pci: ${message(e)}`));
    if (problems.length > 0) log.error("start rollback incomplete", { vm: name, problems });
    this.setState(name, "stopped", {
      pid: null,
      pid_start_time: null,
      serial_socket: null,
      health: "unknown",
      last_error: `start failed: ${message(error)}`,
    });
    events.publish("vm.failed", "vm", name, { error: message(error), rollback: problems });
  }

  // ------------------------------------------------------------ stop

  stop(name: string, opts: { graceMs?: number } = {}): Promise<VmRecord> {
    return this.locked(name, async () => {
      return toRecord(await this.#stopLocked(name, opts.graceMs ?? this.ctx.options.stopGraceMs));
    });
  }

  async #stopLocked(name: string, graceMs: number): Promise<VmRow> {
    const { store, network, events, now } = this.ctx;
    let row = this.#row(name);
    assertAllowed("stop", row.state, name);
    this.supervisor.cancelRestart(name);
    if (row.state === "created" || row.state === "stopped") {
      if (row.desired !== "stopped") {
        row = store.vms.update(name, { desired: "stopped" }, now().toISOString());
      }
      return row;
    }
    if (row.state === "crashed") {
      await network?.deleteTap(row.tap);
      await this.ctx.pci?.restore(name);
      row = this.setState(name, "stopped", { desired: "stopped" });
      events.publish("vm.stopped", "vm", name, { from: "crashed" });
      return row;
    }
    row = this.setState(name, "stopping", { desired: "stopped" });
    events.publish("vm.stopping", "vm", name, { grace_ms: graceMs });
    return await this.finishStop(row, graceMs);
  }

  /** Row is `stopping`: shut the VMM down (grace, then kill), delete the TAP, record `stopped`. */
  async finishStop(row: VmRow, graceMs: number): Promise<VmRow> {
    const { hypervisor, network, events } = this.ctx;
    const name = row.name;
    this.supervisor.stopHealth(name);
    this.#stopping.add(name);
    try {
      let proc = this.procs.get(name);
      if (!proc && hypervisor) {
        proc = (await hypervisor.adopt(name, vmRuntimeDir(this.ctx.options, name))) ?? undefined;
      }
      if (proc) {
        const hv = hypervisor ?? this.#ports().hypervisor;
        try {
          await hv.shutdown(proc, { graceMs });
        } catch (error) {
          this.ctx.log.warn("graceful shutdown failed, killing", { vm: name, error });
          await hv.kill(proc);
        }
      }
      await network?.deleteTap(row.tap);
      await this.ctx.pci?.restore(name);
    } catch (error) {
      this.procs.delete(name);
      this.setState(name, "crashed", { last_error: `stop failed: ${message(error)}`, pid: null });
      events.publish("vm.crashed", "vm", name, { error: message(error), during: "stop" });
      throw error;
    } finally {
      this.procs.delete(name);
      this.#stopping.delete(name);
    }
    const stopped = this.setState(name, "stopped", {
      pid: null,
      pid_start_time: null,
      serial_socket: null,
      health: "unknown",
    });
    events.publish("vm.stopped", "vm", name, {});
    return stopped;
  }

  restart(name: string, opts: { graceMs?: number } = {}): Promise<VmRecord> {
    return this.locked(name, async () => {
      const row = this.#row(name);
      assertAllowed("restart", row.state, name);
      this.supervisor.cancelRestart(name, true);
      if (row.state === "running" || row.state === "crashed") {
        await this.#stopLocked(name, opts.graceMs ?? this.ctx.options.stopGraceMs);
      }
      return toRecord(await this.startLocked(name, false));
    });
  }

  // ------------------------------------------------------------ delete

  delete(name: string, opts: { graceMs?: number } = {}): Promise<void> {
    return this.locked(name, async () => {
      const row = this.#row(name);
      assertAllowed("delete", row.state, name);
      this.supervisor.cancelRestart(name, true);
      let current = row;
      if (row.state === "running" || row.state === "crashed") {
        current = await this.#stopLocked(name, opts.graceMs ?? this.ctx.options.stopGraceMs);
      }
      await this.finishDelete(current);
    });
  }

  /** Row is settled (created/stopped/deleting): destroy per-VM files, drop the row and lease. */
  async finishDelete(row: VmRow, reason?: string): Promise<void> {
    const { store, hypervisor, network, events, options } = this.ctx;
    const name = row.name;
    if (row.state !== "deleting") this.setState(name, "deleting", { desired: "stopped" });
    await network?.deleteTap(row.tap);
    await this.ctx.pci?.restore(name);
    await hypervisor?.destroy({
      name,
      runtimeDir: vmRuntimeDir(options, name),
      stateDir: vmStateDir(options, name),
    });
    store.tx(() => {
      this.#ipam.release(row.id);
      store.vms.delete(name);
    });
    this.supervisor.forget(name);
    events.publish("vm.deleted", "vm", name, { ip: row.ip, ...(reason ? { reason } : {}) });
    await this.#afterDelete().catch((e) =>
      this.ctx.log.warn("artifact collection failed", { error: e })
    );
  }

  // ------------------------------------------------------------ config

  getConfig(name: string): VersionedVmConfig {
    const row = this.#row(name);
    const c = this.ctx.store.configs.get(row.id);
    if (!c) throw new VolantError("internal", `vm ${name} has no config row`);
    return c;
  }

  async patchConfig(name: string, input: VmConfigPatch): Promise<VersionedVmConfig> {
    const patch = parseOrThrow(VmConfigPatchSchema, input, "VM config patch");
    const { store, events, now } = this.ctx;
    return await this.locked(name, async () => {
      const row = this.#row(name);
      assertAllowed("patch_config", row.state, name);
      const current = this.getConfig(name).config;
      const next = mergeConfigPatch(current, patch, row.artifacts);
      // The same command line the next start builds must fit the budget.
      await assembleCmdline({
        manifest: next.manifest,
        ip: row.ip,
        prefix: this.#ipam.pool.prefix,
        gateway: this.#ipam.pool.gateway,
        dns: this.ctx.options.dns,
        mtu: this.ctx.options.mtu,
        hostname: row.name,
        tscKhz: this.ctx.options.tscKhz,
        boot: "auto",
        rootfsDevice: next.manifest.rootfs ? "vdb" : undefined,
        rootfsFstype: next.manifest.rootfs ? "ext4" : undefined,
        agentDevice: this.ctx.options.agentImage ? "vda" : undefined,
        extra: next.kernel_cmdline,
        network: next.network?.mode ?? "bridged",
      });
      const time = now().toISOString();
      const version = store.tx(() => {
        const v = store.configs.put(row.id, next, time);
        store.vms.update(name, {
          runtime: next.runtime,
          cpu_cores: next.resources.cpu_cores,
          memory_mb: next.resources.memory_mb,
          kernel_cmdline: next.kernel_cmdline,
          machine: next.machine,
          restart_policy: next.restart_policy,
        }, time);
        return v;
      });
      events.publish("vm.config_updated", "vm", name, {
        version,
        fields: Object.keys(patch),
        applies_at_next_start: row.state !== "created" && row.state !== "stopped",
      });
      return { version, updated_at: time, config: next };
    });
  }

  configHistory(name: string, limit?: number): VmConfigHistoryEntry[] {
    const row = this.#row(name);
    return this.ctx.store.configs.history(row.id, limit);
  }
}

/** 503 naming the driver when it cannot start VMs on this host. */
async function assertUsable(hypervisor: Hypervisor): Promise<void> {
  const available = await hypervisor.available();
  if (!available.ok) {
    throw new VolantError(
      "unavailable",
      `cannot start VMs: the ${hypervisor.kind} driver is not usable: ${available.reason}`,
      { details: { missing: hypervisor.kind } },
    );
  }
}
