/**
 * The VM service: what users (API, CLI, deployment controller) ask of VMs:
 * create, start, stop, restart, delete, config, reads. It validates input,
 * takes the VM's lock and hands the lifecycle work to the core's operations
 * (lifecycle/operations.ts), which change state only through
 * `LifecycleCore.transition`. It reaches supervision only through the core
 * (a user action cancels a pending automatic restart); the Supervisor never
 * sees it.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import {
  type CreateVmBody,
  CreateVmBodySchema,
  type VersionedVmConfig,
  type VmConfigHistoryEntry,
  type VmConfigPatch,
  VmConfigPatchSchema,
  type VmList,
  type VmListQuery,
  type VmRecord,
} from "../manifest/api.ts";
import { parseOrThrow } from "../manifest/mod.ts";
import { assembleCmdline } from "./cmdline.ts";
import type { VmConsoleTarget, VmServiceApi } from "./contracts.ts";
import type { ServiceContext } from "./context.ts";
import { formatIpv4, type Ipam, macFor } from "./ipam.ts";
import type { LifecycleCore } from "./lifecycle/core.ts";
import type { VmOperations } from "./lifecycle/operations.ts";
import { assertAllowed } from "./state_machine.ts";
import type { VmRow } from "./store_port.ts";
import { initialConfig, mergeConfigPatch } from "./vm_config.ts";
import { assertHostCanHonour } from "./host_fields.ts";
import { vmRuntimeDir } from "./vm_spec.ts";
import { newAgentKey } from "./agent_key.ts";

/** The API view of a row: internal bookkeeping fields dropped. */
export function toRecord(row: VmRow): VmRecord {
  const { desired: _d, pid_start_time: _p, artifacts: _a, ...record } = row;
  return { ...record, resources: { cpu_cores: row.cpu_cores, memory_mb: row.memory_mb } };
}

export class VmService implements VmServiceApi {
  readonly #ctx: ServiceContext;
  readonly #core: LifecycleCore;
  readonly #ops: VmOperations;
  readonly #ipam: Ipam;

  constructor(ops: VmOperations, ipam: Ipam) {
    this.#ops = ops;
    this.#core = ops.core;
    this.#ctx = ops.core.ctx;
    this.#ipam = ipam;
  }

  // ------------------------------------------------------------ reads

  list(query: VmListQuery): VmList {
    const { items, total } = this.#ctx.store.vms.list(query);
    return { items: items.map(toRecord), total, limit: query.limit, offset: query.offset };
  }

  get(name: string): VmRecord {
    return toRecord(this.#core.row(name));
  }

  console(name: string): VmConsoleTarget {
    const row = this.#core.row(name);
    const proc = this.#core.process(name);
    return {
      name,
      state: row.state,
      serialSocket: proc?.serialSocket ?? row.serial_socket,
      serialLog: proc?.serialLog ?? `${vmRuntimeDir(this.#ctx.options, name)}/serial.log`,
    };
  }

  #locked<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.#core.locked(name, fn);
  }

  #grace(opts: { graceMs?: number }): number {
    return opts.graceMs ?? this.#ctx.options.stopGraceMs;
  }

  // ------------------------------------------------------------ create

  async create(input: CreateVmBody): Promise<VmRecord> {
    const body = parseOrThrow(CreateVmBodySchema, input, "VM");
    const { store, now } = this.#ctx;
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
    const config = initialConfig(body, plugin, { machine: this.#ctx.options.machine });
    // A field this host cannot honour is refused now, naming it, never ignored at boot.
    await assertHostCanHonour(this.#ctx, config, plugin.artifacts);
    // What the boot will need is checked before the lease is taken: a create
    // that cannot boot must not hold an address while it fails.
    if (body.start !== false) await this.#ops.preflight(config);
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
    this.#core.publish(row.name, {
      type: "vm.created",
      data: { name: row.name, plugin: row.plugin, ip: row.ip, mac: row.mac, tap: row.tap },
    });
    if (body.start === false) return toRecord(row);
    try {
      return await this.start(body.name);
    } catch (error) {
      // A create that cannot boot leaves nothing behind: row, lease and dirs go.
      await this.#locked(body.name, async () => {
        const current = this.#core.find(body.name);
        if (current) await this.#ops.remove(current, "boot failed during create");
      });
      throw error;
    }
  }

  // ------------------------------------------------------------ start / stop / restart

  start(name: string): Promise<VmRecord> {
    return this.#locked(name, async () => {
      this.#core.supervision.cancelRestart(name, true);
      return toRecord(await this.#ops.start(name, false));
    });
  }

  stop(name: string, opts: { graceMs?: number } = {}): Promise<VmRecord> {
    return this.#locked(name, async () => {
      assertAllowed("stop", this.#core.row(name).state, name);
      this.#core.supervision.cancelRestart(name);
      return toRecord(await this.#ops.stop(name, this.#grace(opts)));
    });
  }

  restart(name: string, opts: { graceMs?: number } = {}): Promise<VmRecord> {
    return this.#locked(name, async () => {
      const row = this.#core.row(name);
      assertAllowed("restart", row.state, name);
      this.#core.supervision.cancelRestart(name, true);
      if (row.state === "running" || row.state === "crashed") {
        await this.#ops.stop(name, this.#grace(opts));
      }
      return toRecord(await this.#ops.start(name, false));
    });
  }

  // ------------------------------------------------------------ delete

  delete(name: string, opts: { graceMs?: number } = {}): Promise<void> {
    return this.#locked(name, async () => {
      const row = this.#core.row(name);
      assertAllowed("delete", row.state, name);
      this.#core.supervision.cancelRestart(name, true);
      let current = row;
      if (row.state === "running" || row.state === "crashed") {
        current = await this.#ops.stop(name, this.#grace(opts));
      }
      await this.#ops.remove(current);
    });
  }

  // ------------------------------------------------------------ config

  getConfig(name: string): VersionedVmConfig {
    const row = this.#core.row(name);
    const c = this.#ctx.store.configs.get(row.id);
    if (!c) throw new VolantError("internal", `vm ${name} has no config row`);
    return c;
  }

  async patchConfig(name: string, input: VmConfigPatch): Promise<VersionedVmConfig> {
    const patch = parseOrThrow(VmConfigPatchSchema, input, "VM config patch");
    const { store, now } = this.#ctx;
    return await this.#locked(name, async () => {
      const row = this.#core.row(name);
      assertAllowed("patch_config", row.state, name);
      const current = this.getConfig(name).config;
      const next = mergeConfigPatch(current, patch, row.artifacts);
      // The same command line the next start builds must fit the budget.
      await assembleCmdline({
        manifest: next.manifest,
        ip: row.ip,
        prefix: this.#ipam.pool.prefix,
        gateway: this.#ipam.pool.gateway,
        dns: this.#ctx.options.dns,
        mtu: this.#ctx.options.mtu,
        hostname: row.name,
        tscKhz: this.#ctx.options.tscKhz,
        boot: "auto",
        rootfsDevice: next.manifest.rootfs ? "vdb" : undefined,
        rootfsFstype: next.manifest.rootfs ? "ext4" : undefined,
        agentDevice: this.#ctx.options.agentImage ? "vda" : undefined,
        extra: next.kernel_cmdline,
        network: next.network?.mode ?? "bridged",
        agentKey: newAgentKey(), // same length as the next boot's
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
      this.#core.publish(name, {
        type: "vm.config_updated",
        data: {
          version,
          fields: Object.keys(patch),
          applies_at_next_start: row.state !== "created" && row.state !== "stopped",
        },
      });
      return { version, updated_at: time, config: next };
    });
  }

  configHistory(name: string, limit?: number): VmConfigHistoryEntry[] {
    const row = this.#core.row(name);
    return this.#ctx.store.configs.history(row.id, limit);
  }
}
