/**
 * Deployments: N replicas of one config, kept converged by a level-triggered
 * controller (planner.ts decides, controller.ts acts, service.ts is the API
 * face). See docs/deployments.md.
 *
 * @example
 * ```ts
 * const { service, controller } = createDeployments({ store, vms, events, guest, log });
 * controller.start();
 * await service.create({ name: "web", replicas: 3, config: { plugin: "caddy" } });
 * ```
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import type { EventBusApi, VmServiceApi } from "../contracts.ts";
import type { GuestAgent } from "../ports.ts";
import type { StateStore } from "../store_port.ts";
import { guestProbe, replicaVms, vmEventSource } from "./adapters.ts";
import { type ControllerOptions, DeploymentController } from "./controller.ts";
import { type Clock, systemClock } from "./ports.ts";
import { DeploymentService } from "./service.ts";

export { DeploymentController } from "./controller.ts";
export type { ControllerOptions } from "./controller.ts";
export { DeploymentService } from "./service.ts";
export type { DeploymentServiceApi } from "../contracts.ts";

export function createDeployments(deps: {
  store: StateStore;
  vms: VmServiceApi;
  events: EventBusApi;
  guest?: GuestAgent;
  /** Scale to zero: is this stopped replica parked (it wakes on its next request)? */
  parked?: (vm: string) => Promise<boolean>;
  log: Logger;
  now: () => Date;
  clock?: Clock;
  options?: Partial<ControllerOptions>;
}): { service: DeploymentService; controller: DeploymentController } {
  const vms = replicaVms(deps.vms);
  const controller = new DeploymentController({
    store: deps.store,
    vms,
    events: deps.events,
    vmEvents: vmEventSource(
      deps.events,
      (error) => deps.log.error("deployment event follower stopped", { error }),
    ),
    probe: deps.guest ? guestProbe(deps.guest) : undefined,
    parked: deps.parked,
    clock: deps.clock ?? systemClock,
    log: deps.log,
    options: deps.options,
  });
  const service = new DeploymentService({
    store: deps.store,
    vms,
    events: deps.events,
    controller,
    now: deps.now,
  });
  return { service, controller };
}
