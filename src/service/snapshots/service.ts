/**
 * VM snapshots: save a running VM (device state + RAM through the driver,
 * writable disk overlays copied while it is stopped, so disk and memory
 * agree), list, delete, and restore one into a new VMM that the supervisor
 * then watches like a booted one. A restore is refused, with the reason, when
 * the snapshot's files fail their checksums, when the VMM, kernel, initramfs
 * or agent image differ from the snapshot's, or when the VM's machine
 * (CPUs, memory, disks, command line) changed since; a failed restore
 * leaves the VM `stopped` with `last_error` set, and it can cold boot.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import {
  type CreateSnapshotBody,
  CreateSnapshotBodySchema,
  type RestoreVmBody,
  RestoreVmBodySchema,
  type SnapshotRecord,
} from "../../manifest/snapshot.ts";
import type { CreateVmBody, VmRecord } from "../../manifest/api.ts";
import { parseOrThrow } from "../../manifest/mod.ts";
import type { Pool } from "../ipam.ts";
import type { Hypervisor, VmProcess, VmSpec } from "../ports.ts";
import { assertAllowed } from "../state_machine.ts";
import type { VmRow } from "../store_port.ts";
import { buildVmSpec, pollsHealth, vmRuntimeDir } from "../vm_spec.ts";
import { toRecord } from "../vms.ts";
import type { VmOperations } from "../lifecycle/operations.ts";
import type { SnapshotServiceApi, VmServiceApi } from "../contracts.ts";
import { type PendingSnapshot, SnapshotFiles } from "./files.ts";
import { identityDiff, identityOf } from "./identity.ts";
import { IdleParker } from "./idle.ts";
import { handIdentity, identityFromSpec } from "./identity_handoff.ts";
import { newAgentKey, readAgentKey, writeAgentKey } from "../agent_key.ts";

/** The snapshot tree's folder of plugins' ready snapshots. */
const PLUGIN_SNAPSHOTS = "_plugins";

/** The parts of a spec a snapshot's memory depends on: a change makes it unrestorable. */
function machineOf(spec: VmSpec, clone: boolean): string {
  return JSON.stringify({
    cpus: spec.cpus,
    memoryMb: spec.memoryMb,
    machine: spec.machine,
    disks: spec.disks.map((d) => [d.id, d.format, d.readonly]),
    // A clone has its own address, MAC and TAP (handed over after the restore).
    ...(clone ? {} : { cmdline: spec.cmdline, net: spec.net ?? null }),
  });
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class SnapshotService implements SnapshotServiceApi {
  readonly files: SnapshotFiles;
  /** Scale to zero (idle_timeout_s): started by the services' start(). */
  readonly idle: IdleParker;
  readonly #ops: VmOperations;
  /** The public VM service: creates, starts and deletes of warm start go through it. */
  readonly #vms: VmServiceApi;
  readonly #pool: Pool;

  constructor(ops: VmOperations, vms: VmServiceApi, pool: Pool) {
    this.#ops = ops;
    this.#vms = vms;
    this.#pool = pool;
    this.files = new SnapshotFiles(`${ops.core.ctx.options.stateDir}/snapshots`);
    this.idle = new IdleParker(this, ops.core.ctx, vms);
  }

  enterAgent(vm: string): Promise<() => void> {
    return this.idle.enter(vm);
  }

  get #ctx() {
    return this.#ops.core.ctx;
  }

  get #core() {
    return this.#ops.core;
  }

  #hypervisor(
    op: "snapshot" | "restore",
  ): Required<Pick<Hypervisor, "snapshot" | "restore">> & Hypervisor {
    const hv = this.#ctx.hypervisor;
    if (!hv?.snapshot || !hv.restore || !hv.resume) {
      throw new VolantError(
        "not_implemented",
        `cannot ${op}: the ${hv?.kind ?? "configured"} driver has no snapshot support`,
      );
    }
    return hv as Required<Pick<Hypervisor, "snapshot" | "restore">> & Hypervisor;
  }

  #row(name: string): VmRow {
    const row = this.#ctx.store.vms.get(name);
    if (!row) throw new VolantError("not_found", `vm ${name} not found`);
    return row;
  }

  async #spec(row: VmRow): Promise<{ spec: VmSpec; configVersion: number }> {
    const c = this.#ctx.store.configs.get(row.id);
    if (!c) throw new VolantError("internal", `vm ${row.name} has no config row`);
    const driverArgs = await this.#ctx.hypervisor?.extraKernelArgs?.() ?? [];
    const spec = await buildVmSpec({
      vm: row,
      config: c.config,
      options: this.#ctx.options,
      pool: this.#pool,
      driverArgs,
      // As the boot had it (operations.ts): the key itself is never in a snapshot's spec.
      agentChannel: this.#ctx.hypervisor?.agentChannel === true,
    });
    return { spec, configVersion: c.version };
  }

  // ------------------------------------------------------------ reads

  list(vm: string): Promise<SnapshotRecord[]> {
    this.#row(vm);
    return this.files.list(vm);
  }

  get(vm: string, name: string): Promise<SnapshotRecord> {
    this.#row(vm);
    return this.files.get(vm, name);
  }

  remove(vm: string, name: string): Promise<void> {
    this.#row(vm);
    return this.#core.locked(vm, () => this.files.remove(vm, name));
  }

  /** Removes the snapshots of VMs that no longer exist (run after a VM delete). */
  async collectOrphans(): Promise<void> {
    try {
      for await (const e of Deno.readDir(this.files.root)) {
        if (e.isDirectory && !e.name.startsWith("_") && !this.#ctx.store.vms.get(e.name)) {
          await this.files.removeAll(e.name);
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  // ------------------------------------------------------------ save

  create(vm: string, input: CreateSnapshotBody): Promise<SnapshotRecord> {
    const body = parseOrThrow(CreateSnapshotBodySchema, input ?? {}, "snapshot");
    const hv = this.#hypervisor("snapshot");
    return this.#core.locked(vm, async () => {
      const row = this.#row(vm);
      if (row.state !== "running") {
        throw new VolantError(
          "conflict",
          `vm ${vm} is ${row.state}: only a running VM can be snapshot`,
        );
      }
      const proc = this.#core.process(vm) ??
        await hv.adopt(vm, vmRuntimeDir(this.#ctx.options, vm));
      if (!proc) throw new VolantError("conflict", `vm ${vm} has no running VMM`);
      const name = body.name ?? defaultName(this.#ctx.now());
      const { spec, configVersion } = await this.#spec(row);
      const identity = await identityOf(hv, spec, this.#ctx.options.agentImage);
      const pending = await this.files.begin(vm, name);
      let rec: SnapshotRecord;
      try {
        await Deno.writeTextFile(
          `${pending.dir}/machine.json`,
          JSON.stringify({ vm: machineOf(spec, false), clone: machineOf(spec, true) }),
        );
        const pauseMs = await this.#save(hv, proc, spec, pending, body.stop === true);
        // The guest's memory holds this boot's agent key: a restore must give the daemon it back
        // (a cold start in between makes a new one).
        const key = await readAgentKey(vmRuntimeDir(this.#ctx.options, vm));
        if (key) await writeAgentKey(pending.dir, key);
        rec = await this.files.commit(pending, {
          name,
          vm,
          plugin: row.plugin,
          created_at: this.#ctx.now().toISOString(),
          after: body.stop ? "stopped" : "running",
          pause_ms: Math.round(pauseMs),
          identity,
          config_version: configVersion,
        });
      } catch (e) {
        await this.files.abort(pending);
        // A stop-after-save leaves the guest frozen until the commit: it runs on instead.
        if (body.stop) {
          await hv.resume!(proc).catch((err) =>
            this.#ctx.log.error("cannot resume after a failed snapshot", {
              vm,
              error: message(err),
            })
          );
        }
        throw e;
      }
      // Committed first: a VM seen stopped by scale to zero always has its snapshot.
      if (body.stop) await this.#stopAfterSave(row, proc, hv);
      this.#core.publish(vm, {
        type: "vm.snapshotted",
        data: {
          snapshot: name,
          size_bytes: rec.size_bytes,
          pause_ms: rec.pause_ms,
          stopped: body.stop === true,
        },
      });
      return rec;
    });
  }

  /**
   * Saves state with the VM left stopped, copies its writable overlays (its
   * disks are flushed and idle now), then resumes it unless it is to stop.
   * Returns how long the guest did not run, ms.
   */
  async #save(
    hv: Hypervisor & Required<Pick<Hypervisor, "snapshot">>,
    proc: VmProcess,
    spec: VmSpec,
    pending: PendingSnapshot,
    stop: boolean,
  ): Promise<number> {
    const t0 = performance.now();
    let saved = false;
    try {
      await hv.snapshot(proc, `${pending.dir}/vmm`, { resume: false });
      saved = true;
      for (const d of spec.disks.filter((x) => !x.readonly)) {
        await Deno.copyFile(d.path, `${pending.dir}/disk-${d.id}.qcow2`);
      }
    } finally {
      // A failed save never leaves the guest frozen; a stop-after-save keeps it still until killed.
      if (!stop || !saved) {
        await hv.resume!(proc).catch((e) =>
          this.#ctx.log.error("cannot resume after snapshot", { vm: proc.name, error: message(e) })
        );
      }
    }
    return performance.now() - t0;
  }

  /** The VM's state is saved: its VMM goes without a shutdown (the guest must not run on). */
  async #stopAfterSave(row: VmRow, proc: VmProcess, hv: Hypervisor): Promise<void> {
    const stopping = this.#core.transition(row.name, "stopping", {
      type: "vm.stopping",
      data: { grace_ms: 0 },
    }, { desired: "stopped" });
    await this.#core.intent.during(row.name, () => hv.kill(proc));
    await this.#ops.finishStop(stopping, 0);
  }

  // ------------------------------------------------------------ warm start

  /** Where a plugin's ready snapshot lives (`_plugins` is no DNS label: no VM can own it). */
  warmDir(plugin: string): string {
    return this.files.dir(PLUGIN_SNAPSHOTS, plugin);
  }

  /** The plugin's ready snapshot, or not_found. */
  warmInfo(plugin: string): Promise<SnapshotRecord> {
    return this.files.get(PLUGIN_SNAPSHOTS, plugin);
  }

  async unwarm(plugin: string): Promise<void> {
    await this.files.remove(PLUGIN_SNAPSHOTS, plugin);
  }

  /**
   * Takes a plugin's ready snapshot: boots a throwaway VM of it, waits until
   * it is healthy, checks that its guest takes an identity over the console
   * (clones need that, or they would all answer on one address), snapshots
   * it stopped and keeps the snapshot as the plugin's. Replaces an older one.
   */
  async warm(plugin: string): Promise<SnapshotRecord> {
    this.#hypervisor("snapshot"); // 501 early when the driver cannot snapshot
    const { store, guest, log } = this.#ctx;
    if (!store.plugins.get(plugin)) {
      throw new VolantError("not_found", `plugin ${plugin} not found`);
    }
    if (!guest) {
      throw new VolantError(
        "not_implemented",
        "warm start needs the guest client (health checks)",
      );
    }
    const tmp = `w${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    await this.#vms.create({ name: tmp, plugin, start: true });
    try {
      const row = this.#row(tmp);
      const deadline = Date.now() + 180_000;
      while (!(await guest.health(row.ip, { timeoutMs: 2000 })).ok) {
        if (Date.now() > deadline) {
          throw new VolantError("upstream", `plugin ${plugin}: no healthy VM`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const proc = this.#core.process(tmp)!;
      const { spec } = await this.#spec(row);
      // The template's own key again: its guest proves it takes the whole line, key included.
      const key = await readAgentKey(vmRuntimeDir(this.#ctx.options, tmp));
      await handIdentity(proc, identityFromSpec(spec, key), 60_000).catch((e) => {
        throw new VolantError(
          "conflict",
          `plugin ${plugin} cannot be warmed: ${
            message(e)
          }; its guest agent lacks the identity hand-off`,
        );
      });
      await this.create(tmp, { name: "ready", stop: true });
      await Deno.mkdir(this.files.vmDir(PLUGIN_SNAPSHOTS), { recursive: true, mode: 0o700 });
      await this.files.remove(PLUGIN_SNAPSHOTS, plugin).catch((e) => {
        if (!(e instanceof VolantError && e.code === "not_found")) throw e;
      });
      await Deno.rename(this.files.dir(tmp, "ready"), this.warmDir(plugin));
    } finally {
      await this.#vms.delete(tmp).catch((e) =>
        log.error("cannot delete the warm-up VM", { vm: tmp, error: message(e) })
      );
    }
    const ready = await this.warmInfo(plugin);
    // Hashed once here, so that no clone pays for it (about 0.6 s for 256 MiB under TCG).
    await this.files.prime(ready, this.warmDir(plugin));
    return ready;
  }

  /**
   * `POST /vms` with warm start: a VM of a plugin with a ready snapshot, and
   * no resource, machine or command-line override, is created stopped and
   * restored as a clone of that snapshot; anything else (or a clone that
   * fails) boots cold as before.
   */
  async createVm(body: CreateVmBody): Promise<VmRecord> {
    const vms = this.#vms;
    const custom = body.cpu_cores !== undefined || body.memory_mb !== undefined ||
      body.machine !== undefined || body.kernel_cmdline !== undefined;
    const hv = this.#ctx.hypervisor;
    if (body.start === false || custom || !hv?.restore) return vms.create(body);
    const ready = await this.warmInfo(body.plugin).catch((e) => {
      if (e instanceof VolantError && e.code === "not_found") return null;
      throw e;
    });
    if (!ready) return vms.create(body);
    await vms.create({ ...body, start: false });
    try {
      return await this.#core.locked(body.name, async () => {
        const h = hv as Hypervisor & Required<Pick<Hypervisor, "restore">>;
        return await this.#restoreLocked(
          h,
          this.#row(body.name),
          ready,
          this.warmDir(body.plugin),
          true,
        );
      });
    } catch (e) {
      this.#ctx.log.warn("warm start failed: cold boot", { vm: body.name, error: message(e) });
      try {
        return await vms.start(body.name);
      } catch (cold) {
        // As a plain create: a VM that cannot boot is not left behind.
        await vms.delete(body.name).catch((d) =>
          this.#ctx.log.error("cannot delete", { vm: body.name, error: message(d) })
        );
        throw cold;
      }
    }
  }

  // ------------------------------------------------------------ restore

  restore(vm: string, input: RestoreVmBody): Promise<VmRecord> {
    const body = parseOrThrow(RestoreVmBodySchema, input, "restore");
    const hv = this.#hypervisor("restore");
    return this.#core.locked(vm, async () => {
      const row = this.#row(vm);
      if (row.state === "running" || row.state === "starting") {
        throw new VolantError("conflict", `vm ${vm} is ${row.state}: stop it before restoring`, {
          problems: [{ field: "from", message: "the VM must be stopped" }],
        });
      }
      assertAllowed("start", row.state, vm);
      this.#core.supervision.cancelRestart(vm, true);
      const snap = await this.files.get(vm, body.from);
      return await this.#restoreLocked(hv, row, snap, this.files.dir(vm, snap.name), false);
    });
  }

  /**
   * Restores `row`'s VM from `snap` in `dir` (its lock held; it is stopped):
   * checks, TAP, overlays back, a new VMM loading the state, then running and
   * watched. A clone (a plugin's ready snapshot) takes its own identity over
   * the console before it is marked running.
   */
  async #restoreLocked(
    hv: Hypervisor & Required<Pick<Hypervisor, "restore">>,
    row: VmRow,
    snap: SnapshotRecord,
    dir: string,
    clone: boolean,
  ): Promise<VmRecord> {
    const vm = row.name;
    const t0 = performance.now();
    const phases = { checks: 0, host: 0, vmm: 0, identity: 0 };
    let mark = t0;
    const lap = (phase: keyof typeof phases) => {
      const now = performance.now();
      phases[phase] = Math.round(now - mark);
      mark = now;
    };
    const { spec } = await this.#spec(row);
    await this.#assertRestorable(hv, snap, spec, dir, clone);
    await this.files.verify(snap, dir);
    lap("checks");
    const { network, options } = this.#ctx;
    row = this.#core.transition(vm, "starting", {
      type: "vm.starting",
      data: { automatic: false, attempt: 0 },
    }, { desired: "running", last_error: null, health: "unknown", restarts: 0 });
    let proc: VmProcess | undefined;
    const polled = Boolean(this.#ctx.guest && spec.net) || pollsHealth(
      Boolean(this.#ctx.guest),
      this.#ctx.hypervisor,
      this.#ctx.store.configs.get(row.id)?.config.network?.mode ?? "bridged",
    );
    try {
      const config = this.#ctx.store.configs.get(row.id)!.config;
      if (spec.net) await network?.ensureTap({ name: spec.net.tap, bridge: options.bridge });
      await this.#ops.applyNetPolicy(row, config);
      await hv.prepare(spec);
      for (const d of spec.disks.filter((x) => !x.readonly)) {
        await Deno.copyFile(`${dir}/disk-${d.id}.qcow2`, d.path);
      }
      if (!clone) {
        const key = await readAgentKey(dir);
        if (key) await writeAgentKey(vmRuntimeDir(options, vm), key);
      }
      lap("host");
      proc = await hv.restore(spec, `${dir}/vmm`, { resume: !clone });
      lap("vmm");
      if (clone) {
        // Running, it still carries the template's address until it takes its own: the
        // VM is not marked running (so not proxied to) before the guest acknowledges.
        // (QMP set_link off during the hand-off stalled the guest's MAC change under TCG.)
        await hv.resume!(proc);
        // The clone's own agent key: the template's, in its memory, is replaced by it.
        const key = newAgentKey();
        await writeAgentKey(vmRuntimeDir(options, vm), key);
        await handIdentity(proc, identityFromSpec(spec, key));
        lap("identity");
      }
      this.#core.track(vm, proc);
      row = this.#core.transition(vm, "running", {
        type: "vm.started",
        data: { name: vm, state: "running", ip: row.ip, pid: proc.pid },
      }, {
        pid: proc.pid,
        pid_start_time: proc.startTime,
        serial_socket: proc.serialSocket,
        health: polled ? "starting" : "unknown",
      });
    } catch (error) {
      await this.#rollback(row, proc, error);
      throw error;
    }
    const ms = Math.round(performance.now() - t0);
    this.#core.publish(vm, {
      type: "vm.restored",
      data: { snapshot: snap.name, pid: proc.pid, ms, clone, phases_ms: phases },
    });
    this.#core.publish(vm, {
      type: "vm.running",
      data: { pid: proc.pid, ip: row.ip, automatic: false },
    });
    this.#core.supervision.booted(row, proc, polled, true);
    return toRecord(row);
  }

  async #assertRestorable(
    hv: Hypervisor,
    snap: SnapshotRecord,
    spec: VmSpec,
    savedDir: string,
    clone: boolean,
  ): Promise<void> {
    const now = await identityOf(hv, spec, this.#ctx.options.agentImage);
    const diff = identityDiff(snap.identity, now);
    if (diff.length > 0) {
      throw new VolantError(
        "conflict",
        `snapshot ${snap.name} of vm ${snap.vm} was taken under other host software ` +
          `(${diff.join("; ")}): refusing to restore it; start the VM from cold instead`,
        { problems: [{ field: "from", message: diff.join("; ") }] },
      );
    }
    const saved = JSON.parse(await Deno.readTextFile(`${savedDir}/machine.json`));
    if (saved[clone ? "clone" : "vm"] !== machineOf(spec, clone)) {
      throw new VolantError(
        "conflict",
        `vm ${snap.vm}'s machine (CPUs, memory, disks, command line or network) changed since ` +
          `snapshot ${snap.name}: refusing to restore it; start the VM from cold instead`,
        { problems: [{ field: "from", message: "the VM's config changed since the snapshot" }] },
      );
    }
  }

  async #rollback(row: VmRow, proc: VmProcess | undefined, error: unknown): Promise<void> {
    const { hypervisor, network, log } = this.#ctx;
    this.#core.untrack(row.name);
    const problems: string[] = [];
    if (proc && hypervisor) {
      const started = proc;
      await this.#core.intent.during(row.name, () => hypervisor.kill(started)).catch((e) =>
        problems.push(`kill: ${message(e)}`)
      );
    }
    await network?.deleteTap(row.tap).catch((e) => problems.push(`tap: ${message(e)}`));
    if (problems.length > 0) log.error("restore rollback incomplete", { vm: row.name, problems });
    this.#core.transition(row.name, "stopped", {
      type: "vm.failed",
      data: { cause: "start_failed", error: `restore: ${message(error)}`, rollback: problems },
    }, { last_error: `restore failed: ${message(error)}` });
  }
}

/** `s-20261202t153000z`: a DNS label from the time. */
function defaultName(d: Date): string {
  return `s-${d.toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "").toLowerCase()}`;
}
