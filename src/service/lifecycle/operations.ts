/**
 * Start, stop and delete of one VM, each as check -> act (idempotent steps,
 * one shared rollback, see steps.ts) -> verify, every state change through
 * the core's `transition`. Callers hold the VM's lock (VmService for user
 * actions, the Supervisor for automatic restarts and reconciliation); the
 * methods that need it say so and check it with `core.assertLocked`.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { VmConfig } from "../../manifest/api.ts";
import type { Ipam } from "../ipam.ts";
import type { HostNetwork, Hypervisor, VmProcess } from "../ports.ts";
import { assertAllowed } from "../state_machine.ts";
import type { VmRow } from "../store_port.ts";
import { assertBootFiles, buildVmSpec, pollsHealth, vmRuntimeDir, vmStateDir } from "../vm_spec.ts";
import { newAgentKey, writeAgentKey } from "../agent_key.ts";
import type { LifecycleCore } from "./core.ts";
import { runSteps, type Step, StepFailed } from "./steps.ts";
import { assertHostCanHonour, pciAddresses, prepareSeed } from "../host_fields.ts";

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class VmOperations {
  readonly core: LifecycleCore;
  readonly #ipam: Ipam;
  readonly #afterDelete: () => Promise<void>;

  constructor(core: LifecycleCore, ipam: Ipam, afterDelete: () => Promise<void>) {
    this.core = core;
    this.#ipam = ipam;
    this.#afterDelete = afterDelete;
  }

  get #ctx() {
    return this.core.ctx;
  }

  /** The driver and host network, or 503 naming what is missing. */
  ports(): { hypervisor: Hypervisor; network: HostNetwork } {
    const { hypervisor, network } = this.#ctx;
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

  /** Driver, host network and boot files usable: the checks a start makes before acting. */
  async preflight(config: VmConfig): Promise<void> {
    const { hypervisor } = this.ports();
    await assertBootFiles(config.manifest, config.plugin, this.#ctx.options);
    await assertUsable(hypervisor);
  }

  /**
   * Enforces the VM's `network.egress` / `network.isolation` (bridged mode,
   * before its VMM runs; again for an adopted VMM). Cleared with its TAP.
   */
  async applyNetPolicy(row: VmRow, config: VmConfig): Promise<void> {
    const net = config.network;
    if (!this.#ctx.network?.applyVmPolicy || (net?.mode ?? "bridged") !== "bridged") return;
    const egress = net?.egress ?? "allow-all";
    const isolation = net?.isolation ?? false;
    if (egress === "allow-all" && !isolation) return; // the default: no rule at all
    await this.#ctx.network.applyVmPolicy({ tap: row.tap, ip: row.ip, egress, isolation });
  }

  // ------------------------------------------------------------ start

  /** Caller holds the lock. created/stopped/crashed -> starting -> running (or back to stopped). */
  async start(name: string, automatic: boolean): Promise<VmRow> {
    const { store, options } = this.#ctx;
    const core = this.core;
    core.assertLocked(name);
    // check
    let row = core.row(name);
    assertAllowed("start", row.state, name);
    const { hypervisor, network } = this.ports();
    const config = store.configs.get(row.id)?.config;
    if (!config) throw new VolantError("internal", `vm ${name} has no config row`);
    const driverArgs = await hypervisor.extraKernelArgs?.() ?? [];
    const agentKey = newAgentKey(); // fresh for every boot: a restart rotates it
    const spec = await buildVmSpec({
      vm: row,
      config,
      options,
      pool: this.#ipam.pool,
      driverArgs,
      // A driver with the agent channel hands the key over it (the daemon's hello), so the key is
      // in neither the VMM's argv (readable by host users) nor the serial log.
      agentKey: hypervisor.agentChannel ? undefined : agentKey,
      agentChannel: hypervisor.agentChannel === true,
    });
    await assertUsable(hypervisor);
    await assertHostCanHonour(this.#ctx, config, row.artifacts);

    // act
    row = core.transition(
      name,
      "starting",
      { type: "vm.starting", data: { automatic, attempt: automatic ? row.restarts + 1 : 0 } },
      {
        desired: "running",
        last_error: null,
        health: "unknown",
        restarts: automatic ? row.restarts + 1 : 0,
      },
    );
    const polled = pollsHealth(
      Boolean(this.#ctx.guest),
      this.#ctx.hypervisor,
      config.network?.mode ?? "bridged",
    );
    let proc: VmProcess | undefined;
    const booting = row;
    const steps: Step[] = [
      {
        name: "tap",
        act: async () => {
          if (spec.net) await network.ensureTap({ name: spec.net.tap, bridge: options.bridge });
        },
        undo: () => network.deleteTap(booting.tap),
      },
      { name: "net_policy", act: () => this.applyNetPolicy(booting, config) },
      {
        name: "cloud_init_seed",
        act: async () => {
          const seed = await prepareSeed(this.#ctx, config, booting, spec.runtimeDir);
          if (seed && !spec.disks.some((d) => d.id === seed.id)) spec.disks.push(seed);
        },
      },
      {
        name: "pci",
        act: async () => {
          const pci = pciAddresses(config);
          if (pci.length > 0 && this.#ctx.pci) {
            spec.pciDevices = (await this.#ctx.pci.bind(name, pci)).map((b) => b.address);
          }
        },
        undo: async () => void await this.#ctx.pci?.restore(name),
      },
      { name: "prepare", act: () => hypervisor.prepare(spec) },
      { name: "agent_key", act: () => writeAgentKey(spec.runtimeDir, agentKey) },
      {
        name: "kill",
        act: async () => {
          proc = await hypervisor.boot(spec);
          core.track(name, proc);
        },
        undo: async () => {
          core.untrack(name);
          const started = proc;
          if (started) await core.intent.during(name, () => hypervisor.kill(started));
        },
      },
    ];
    try {
      await runSteps(steps);
    } catch (error) {
      const cause = error instanceof StepFailed ? error.cause : error;
      const problems = error instanceof StepFailed ? error.rollback : [];
      if (problems.length > 0) {
        this.#ctx.log.error("start rollback incomplete", { vm: name, problems });
      }
      core.transition(
        name,
        "stopped",
        {
          type: "vm.failed",
          data: { cause: "start_failed", error: message(cause), rollback: problems },
        },
        { last_error: `start failed: ${message(cause)}` },
      );
      throw cause;
    }
    const vmm = proc!;
    row = core.transition(
      name,
      "running",
      // vm.started is the documented name (Volant's); vm.running stays as our documented extra.
      { type: "vm.started", data: { name, state: "running", ip: row.ip, pid: vmm.pid } },
      {
        pid: vmm.pid,
        pid_start_time: vmm.startTime,
        serial_socket: vmm.serialSocket,
        health: polled ? "starting" : "unknown",
      },
    );
    core.publish(name, { type: "vm.running", data: { pid: vmm.pid, ip: row.ip, automatic } });
    core.supervision.booted(row, vmm, polled);
    // verify: the row names the VMM the table holds.
    if (row.pid !== vmm.pid || core.process(name) !== vmm) {
      throw new VolantError("internal", `vm ${name} started but its record does not name its VMM`);
    }
    return row;
  }

  // ------------------------------------------------------------ stop

  /** Caller holds the lock. Idempotent: created/stopped just record desired=stopped. */
  async stop(name: string, graceMs: number): Promise<VmRow> {
    const core = this.core;
    core.assertLocked(name);
    let row = core.row(name);
    assertAllowed("stop", row.state, name);
    if (row.state === "created" || row.state === "stopped") {
      return row.desired === "stopped" ? row : core.update(name, { desired: "stopped" });
    }
    if (row.state === "crashed") {
      await this.#ctx.network?.deleteTap(row.tap);
      await this.#ctx.pci?.restore(name);
      return core.transition(
        name,
        "stopped",
        { type: "vm.stopped", data: { cause: "requested", from: "crashed" } },
        { desired: "stopped" },
      );
    }
    row = core.transition(name, "stopping", {
      type: "vm.stopping",
      data: { grace_ms: graceMs },
    }, { desired: "stopped" });
    return await this.finishStop(row, graceMs);
  }

  /** Row is `stopping`: shut the VMM down (grace, then kill), delete the TAP, record `stopped`. */
  async finishStop(row: VmRow, graceMs: number): Promise<VmRow> {
    const { hypervisor, network, options, log } = this.#ctx;
    const core = this.core;
    const name = row.name;
    core.assertLocked(name);
    core.supervision.halting(name);
    const steps: Step[] = [
      {
        name: "vmm",
        act: async () => {
          let proc = core.process(name);
          if (!proc && hypervisor) {
            proc = (await hypervisor.adopt(name, vmRuntimeDir(options, name))) ?? undefined;
          }
          if (!proc) return; // already gone: nothing to shut down
          const hv = hypervisor ?? this.ports().hypervisor;
          try {
            await hv.shutdown(proc, { graceMs });
          } catch (error) {
            log.warn("graceful shutdown failed, killing", { vm: name, error });
            await hv.kill(proc);
          }
        },
      },
      { name: "tap", act: async () => await network?.deleteTap(row.tap) },
      // PCI devices go back to their drivers once the VMM has let go of them.
      { name: "pci", act: async () => void await this.#ctx.pci?.restore(name) },
    ];
    try {
      await core.intent.during(name, () => runSteps(steps));
    } catch (error) {
      const cause = error instanceof StepFailed ? error.cause : error;
      core.transition(name, "crashed", {
        type: "vm.crashed",
        data: { cause: "stop_failed", error: message(cause), during: "stop" },
      }, { last_error: `stop failed: ${message(cause)}` });
      throw cause;
    }
    return core.transition(name, "stopped", { type: "vm.stopped", data: { cause: "requested" } });
  }

  // ------------------------------------------------------------ delete

  /** Caller holds the lock. Row is settled (created/stopped/crashed/deleting): all of it goes. */
  async remove(row: VmRow, reason?: string): Promise<void> {
    const { store, hypervisor, network, options } = this.#ctx;
    const core = this.core;
    const name = row.name;
    core.assertLocked(name);
    if (row.state !== "deleting") {
      core.transition(name, "deleting", undefined, { desired: "stopped" });
    }
    await runSteps([
      { name: "tap", act: async () => await network?.deleteTap(row.tap) },
      { name: "pci", act: async () => void await this.#ctx.pci?.restore(name) },
      {
        name: "files",
        act: async () =>
          await hypervisor?.destroy({
            name,
            runtimeDir: vmRuntimeDir(options, name),
            stateDir: vmStateDir(options, name),
          }),
      },
      {
        name: "row",
        act: () => {
          store.tx(() => {
            this.#ipam.release(row.id);
            store.vms.delete(name);
          });
          return Promise.resolve();
        },
      },
    ]).catch((error) => {
      throw error instanceof StepFailed ? error.cause : error;
    });
    core.untrack(name);
    core.supervision.forget(name);
    core.publish(name, { type: "vm.deleted", data: { ip: row.ip, ...(reason ? { reason } : {}) } });
    // verify: no row is left.
    if (core.find(name)) {
      throw new VolantError("internal", `vm ${name} was deleted but its row remains`);
    }
    await this.#afterDelete().catch((e) =>
      this.#ctx.log.warn("artifact collection failed", { error: e })
    );
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
