/**
 * The controller's ports over the daemon's own services: VmService's public
 * methods, the event bus, the guest agent client. No supervisor, no driver.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { EventBusApi, VmServiceApi } from "../contracts.ts";
import type { GuestAgent } from "../ports.ts";
import type { HealthProbe, ReplicaVms, VmEventSource } from "./ports.ts";

export function replicaVms(vms: VmServiceApi): ReplicaVms {
  return {
    find(name) {
      try {
        return vms.get(name);
      } catch (error) {
        if (error instanceof VolantError && error.code === "not_found") return undefined;
        throw error;
      }
    },
    create: (body) => vms.create(body),
    start: (name) => vms.start(name),
    delete: (name, opts) => vms.delete(name, opts),
    getConfig: (name) => vms.getConfig(name),
    patchConfig: (name, patch) => vms.patchConfig(name, patch),
  };
}

export function vmEventSource(events: EventBusApi, log: (e: unknown) => void): VmEventSource {
  return {
    follow(fn, signal) {
      const sub = events.subscribe({ filter: { types: ["vm.*"] }, signal });
      (async () => {
        for await (const e of sub) fn(e);
      })().catch(log);
    },
  };
}

export function guestProbe(guest: GuestAgent, timeoutMs = 2000): HealthProbe {
  return {
    async healthy(ip) {
      return (await guest.health(ip, { timeoutMs })).ok;
    },
  };
}
