/**
 * What every service shares: the store, the ports, the event bus, options.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { Clock } from "./lifecycle/clock.ts";
import type { Resolver } from "./guarded_fetch.ts";
import type { EventBus } from "./events.ts";
import type { ResolvedServiceOptions } from "./options.ts";
import type {
  GuestAgent,
  HostNetwork,
  Hypervisor,
  ImageConverter,
  PciPassthrough,
  SeedWriter,
  SerialDialer,
} from "./ports.ts";
import type { StateStore } from "./store_port.ts";

export interface ServiceContext {
  store: StateStore;
  events: EventBus;
  options: ResolvedServiceOptions;
  hypervisor?: Hypervisor;
  network?: HostNetwork;
  guest?: GuestAgent;
  /** Opens serial console sockets (the console route). */
  serial?: SerialDialer;
  images?: ImageConverter;
  /** VFIO passthrough (absent: a VM asking for PCI devices is refused at create). */
  pci?: PciPassthrough;
  /** cloud-init seed images (absent: a VM with cloud_init is refused at create). */
  seeds?: SeedWriter;
  fetch: typeof fetch;
  resolve: Resolver;
  log: Logger;
  now: () => Date;
  /** Timers (restart backoff, health polling) and `now`; tests inject a manual one. */
  clock: Clock;
}
