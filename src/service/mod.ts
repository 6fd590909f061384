/**
 * The services: plugin registry, VM lifecycle, events, system info, and the
 * supervisor that adopts VMs at start. src/daemon builds the adapters (store,
 * hypervisor, host network, guest client) and hands them in here.
 *
 * @example
 * ```ts
 * import { openStore } from "../store/mod.ts";
 * import { createServices } from "./mod.ts";
 * const store = openStore("/var/lib/volant/volant.db");
 * const services = createServices({ store, options: { stateDir: "/var/lib/volant" } });
 * await services.start();
 * const vm = await services.vms.create({ name: "web", plugin: "caddy" });
 * ```
 *
 * @module
 */
import { silentLogger } from "../log/mod.ts";
import { ActionService } from "./actions.ts";
import { ArtifactStore } from "./artifact_store.ts";
import type { Services } from "./contracts.ts";
import type { ServiceContext } from "./context.ts";
import { createDeployments } from "./deployments/mod.ts";
import { EventBus } from "./events.ts";
import { systemResolve } from "./guarded_fetch.ts";
import { Ipam, planPool } from "./ipam.ts";
import { resolveOptions, type ServiceDeps } from "./options.ts";
import { KeyService } from "./keys.ts";
import { PluginService } from "./plugins.ts";
import { SystemService } from "./system.ts";
import { VmService } from "./vms.ts";
import { keyedGuest, readAgentKey } from "./agent_key.ts";
import { GuestService } from "./guest_service.ts";
import type { GuestTarget } from "./ports.ts";
import { agentChannelPath, hasNoNic, vmRuntimeDir } from "./vm_spec.ts";
import { systemClock } from "./lifecycle/clock.ts";
import { LifecycleCore } from "./lifecycle/core.ts";
import { VmOperations } from "./lifecycle/operations.ts";
import { Supervisor } from "./supervisor.ts";
import { SnapshotService } from "./snapshots/service.ts";
import { warmCreating } from "./snapshots/warm_create.ts";
import { AutoWarm } from "./snapshots/auto_warm.ts";

export type * from "./contracts.ts";
export type { ServiceDeps, ServiceOptions } from "./options.ts";
export type { StateStore } from "./store_port.ts";
export { ActionService } from "./actions.ts";
export { EventBus } from "./events.ts";
export { KeyService } from "./keys.ts";
export { PluginService } from "./plugins.ts";
export { SystemService } from "./system.ts";
export { VmService } from "./vms.ts";

/** Builds every service over the given adapters; call `start()` once, `close()` at shutdown. */
export function createServices(deps: ServiceDeps): Services {
  const options = resolveOptions(deps.options);
  const base = deps.clock ?? systemClock;
  // `now` alone (older callers) overrides the clock's wall time, not its timers.
  const clock = deps.now ? { ...base, now: deps.now } : base;
  const now = () => clock.now();
  const events = new EventBus(deps.store, now, options.eventRetention);
  const ctx: ServiceContext = {
    store: deps.store,
    events,
    options,
    hypervisor: deps.hypervisor,
    network: deps.network,
    // Calls by IP (health polls, actions, deployment probes) get that VM's agent key.
    guest: deps.guest
      ? keyedGuest(deps.guest, async (ip): Promise<GuestTarget> => {
        const row = deps.store.vms.inStates(["starting", "running", "stopping"])
          .find((r) => r.ip === ip);
        if (!row) return { ip };
        // A VM without a NIC (network.mode "vsock") holds a lease but answers only over the channel.
        const noNic = hasNoNic(deps.store, row.id);
        return {
          ip: noNic ? "" : ip,
          name: row.name,
          key: await readAgentKey(vmRuntimeDir(options, row.name)),
          channel: agentChannelPath(options, row.name),
        };
      })
      : undefined,
    serial: deps.serial,
    images: deps.images,
    pci: deps.pci,
    seeds: deps.seeds,
    fetch: deps.fetch ?? globalThis.fetch,
    resolve: deps.resolve ?? systemResolve,
    log: deps.log ?? silentLogger,
    now,
    clock,
  };
  const ipam = new Ipam(deps.store.leases, planPool(options.subnet, options.pool));
  const keys = new KeyService(ctx);
  const artifacts = deps.artifacts ?? new ArtifactStore(options.stateDir);
  const plugins = new PluginService(ctx, keys.store, artifacts);
  // The lifecycle core sits below both the VM service and the supervisor.
  // After a VM delete: its artifacts and snapshots nobody else uses go.
  const ops = new VmOperations(new LifecycleCore(ctx), ipam, async () => {
    await plugins.collectGarbage();
    await snapshots.collectOrphans();
  });
  const supervisor = new Supervisor(ops);
  const vms = new VmService(ops, ipam);
  const snapshots = new SnapshotService(ops, vms, ipam.pool);
  // What the API and the deployment controller call: creates go through warm start.
  const vmsApi = warmCreating(vms, snapshots);
  const autoWarm = options.warmStart ? new AutoWarm(events, snapshots, ctx.log) : null;
  const system = new SystemService(ctx, ipam);
  const deployments = createDeployments({
    store: deps.store,
    vms: vmsApi,
    events,
    guest: ctx.guest,
    parked: (vm) => snapshots.idle.isParked(vm),
    log: ctx.log,
    now,
    options: options.deployments,
  });
  return {
    plugins,
    vms: vmsApi,
    events,
    system,
    keys,
    actions: new ActionService(ctx, vms, plugins),
    guest: new GuestService(ctx, vms),
    deployments: deployments.service,
    snapshots,
    async start() {
      // Leftovers of a crash: partial downloads, blobs of an unfinished install, old events.
      const temps = await artifacts.cleanTemp();
      if (temps > 0) ctx.log.info("removed partial downloads", { count: temps });
      await plugins.collectGarbage();
      events.prune();
      const { adopted, lost } = await supervisor.reconcile();
      ctx.log.info("reconciled VMs", { adopted, lost });
      snapshots.idle.start();
      autoWarm?.start();
      // After adoption: the controller sees the VMs as they really are.
      deployments.controller.start();
    },
    async close() {
      snapshots.idle.stop();
      await autoWarm?.stop();
      await deployments.controller.stop();
      supervisor.close();
    },
  };
}
