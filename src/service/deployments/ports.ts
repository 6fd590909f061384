/**
 * What the deployment controller needs from the rest of the daemon, as
 * narrow ports: the VM lifecycle (VmService's public methods, nothing of the
 * supervisor), VM events, guest health probes, and a clock it can be tested
 * with.
 *
 * @module
 */
import type {
  CreateVmBody,
  VersionedVmConfig,
  VmConfigPatch,
  VmRecord,
  VolantEvent,
} from "../../manifest/api.ts";

/** The VM calls the controller makes (a subset of VmServiceApi). */
export interface ReplicaVms {
  /** The VM, or undefined when there is none. */
  find(name: string): VmRecord | undefined;
  create(body: CreateVmBody): Promise<VmRecord>;
  start(name: string): Promise<VmRecord>;
  delete(name: string, opts?: { graceMs?: number }): Promise<void>;
  getConfig(name: string): VersionedVmConfig;
  patchConfig(name: string, patch: VmConfigPatch): Promise<VersionedVmConfig>;
}

/** VM events, for waking the controller (it stays correct without them: resync). */
export interface VmEventSource {
  /** Calls `fn` for each `vm.*` event from now on until `signal` aborts. */
  follow(fn: (e: VolantEvent) => void, signal: AbortSignal): void;
}

/** Is the guest's agent answering? (kestrel /healthz) */
export interface HealthProbe {
  healthy(ip: string): Promise<boolean>;
}

/** Time, injectable: tests drive backoff, resync and thresholds by hand. */
export interface Clock {
  now(): number;
  /** Returns an opaque handle for clearTimeout. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
