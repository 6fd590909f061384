/**
 * Plain options for the services, with documented defaults applied in one
 * place. The daemon passes its ResolvedConfig through (spread) rather than
 * copying fields: an option named like a config key gets that key's value, so
 * a key the services read cannot be dropped on the way.
 *
 * @module
 */
import type {
  GuestAgent,
  HostNetwork,
  Hypervisor,
  ImageConverter,
  MachineKind,
  PciPassthrough,
  SeedWriter,
  SerialDialer,
} from "./ports.ts";
import type { StateStore } from "./store_port.ts";
import type { ArtifactBlobs } from "./artifact_store.ts";
import type { Logger } from "../log/mod.ts";
import type { Clock } from "./lifecycle/clock.ts";
import type { DownloadLimits, Resolver } from "./guarded_fetch.ts";
import type { ControllerOptions } from "./deployments/controller.ts";
import { DEFAULTS } from "../config/defaults.ts";
import { VERSION } from "../version.ts";

export interface RestartLimits {
  /** At most this many automatic restarts ... (default 5) */
  maxRestarts: number;
  /** ... within this window (default 10 min). */
  windowMs: number;
  /** First backoff delay, doubled each time (default 1 s). */
  baseDelayMs: number;
  /** Backoff cap (default 60 s). */
  maxDelayMs: number;
}

export interface ServiceOptions {
  /** `<state>`: artifacts in `<state>/artifacts/sha256`, per-VM disks in `<state>/vms/<name>`. */
  stateDir: string;
  /** Per-VM runtime dirs: `<runtimeDir>/<name>` (default /run/volant/vms). */
  runtimeDir?: string;
  /** Bridge name (default vbr0). */
  bridge?: string;
  /** IPv4 subnet (default 192.168.127.0/24). */
  subnet?: string;
  /** Lease pool, inclusive (default .100 .. broadcast-1; either end may be given alone). */
  pool?: { start?: string; end?: string };
  /** DNS servers handed to guests (default: the gateway). */
  dns?: string[];
  /** Guest MTU (unset = kernel default). */
  mtu?: number;
  /** Guest kernel; a VM start without one answers 503 naming it. */
  kernel?: string;
  /** Shared read-only agent image (vda). */
  agentImage?: string;
  /** Boot initramfs for rootfs-only plugins. */
  bootInitramfs?: string;
  /** Host TSC in kHz when the driver runs under TCG (adds tsc_early_khz). */
  tscKhz?: number;
  /** Serial log cap per VM (default 8 MiB). */
  serialLogMaxBytes?: number;
  /** Machine model of new VMs that do not name one (default microvm). */
  machine?: MachineKind;
  /** Grace before a VMM is killed on stop (default: the config's stop_grace_seconds, 20 s). */
  stopGraceMs?: number;
  restart?: Partial<RestartLimits>;
  /** Guest health polling: overall timeout (default 120 s) and interval (default 1 s). */
  health?: { timeoutMs?: number; intervalMs?: number };
  /** Reported by system info. */
  version?: string;
  /** Events kept in the table (default 100,000; older ones are pruned). */
  eventRetention?: number;
  /** Limits and destination policy of manifest and artifact downloads. */
  downloads?: Partial<DownloadOptions>;
  /** Refuse plugins whose manifest has no minisign signature by a trusted key (default false). */
  requireSignatures?: boolean;
  /** Warm every plugin by itself after install or update (config `warm_start`). */
  warmStart?: boolean;
  /** Deployment controller tuning (resync, thresholds, backoff); see deployments/controller.ts. */
  deployments?: Partial<ControllerOptions>;
}

export interface DownloadOptions extends DownloadLimits {
  /** Body manifests may reference loopback and private addresses (default false). */
  allowPrivateSources: boolean;
}

/** Download defaults (the config's): 8 GiB per artifact, 15 s to the headers, 30 s without data. */
export const DOWNLOAD_DEFAULTS: DownloadOptions = {
  maxBytes: DEFAULTS.download_max_bytes,
  connectTimeoutMs: DEFAULTS.download_timeout_seconds * 1000,
  idleTimeoutMs: DEFAULTS.download_timeout_seconds * 2 * 1000,
  allowPrivateSources: DEFAULTS.allow_private_sources,
};

export interface ServiceDeps {
  store: StateStore;
  options: ServiceOptions;
  /** Absent = VM starts answer 503 naming the missing driver. */
  hypervisor?: Hypervisor;
  /** Absent = VM starts answer 503 naming the missing host network. */
  network?: HostNetwork;
  /** Absent = health stays `unknown`. */
  guest?: GuestAgent;
  /** Absent = console connections answer 503. */
  serial?: SerialDialer;
  /** Absent = `plugins install --image` answers 503. */
  images?: ImageConverter;
  /** VFIO passthrough (absent = VMs asking for PCI devices are refused at create). */
  pci?: PciPassthrough;
  /** cloud-init seed writer (absent = VMs with cloud_init are refused at create). */
  seeds?: SeedWriter;
  /** The artifact blob store (default: the file store under `<stateDir>/artifacts`). */
  artifacts?: ArtifactBlobs;
  /** For artifact downloads (tests inject; default globalThis.fetch). */
  fetch?: typeof fetch;
  /** Host name -> addresses, for the download policy (default: the system resolver). */
  resolve?: Resolver;
  log?: Logger;
  now?: () => Date;
  /** Timers and time for supervision (default: the system clock; tests pass a manual one). */
  clock?: Clock;
}

/** Options with every default filled in. */
export interface ResolvedServiceOptions extends
  Required<
    Omit<
      ServiceOptions,
      | "pool"
      | "dns"
      | "mtu"
      | "kernel"
      | "agentImage"
      | "bootInitramfs"
      | "tscKhz"
      | "restart"
      | "health"
      | "downloads"
      | "deployments"
    >
  > {
  downloads: DownloadOptions;
  pool?: { start?: string; end?: string };
  dns?: string[];
  mtu?: number;
  kernel?: string;
  agentImage?: string;
  bootInitramfs?: string;
  tscKhz?: number;
  restart: RestartLimits;
  health: { timeoutMs: number; intervalMs: number };
  deployments?: Partial<ControllerOptions>;
}

export function resolveOptions(o: ServiceOptions): ResolvedServiceOptions {
  return {
    ...o,
    stateDir: o.stateDir,
    runtimeDir: o.runtimeDir ?? DEFAULTS.runtime_dir,
    bridge: o.bridge ?? DEFAULTS.bridge,
    subnet: o.subnet ?? DEFAULTS.subnet,
    serialLogMaxBytes: o.serialLogMaxBytes ?? DEFAULTS.serial_log_max_bytes,
    machine: o.machine ?? DEFAULTS.machine,
    stopGraceMs: o.stopGraceMs ?? DEFAULTS.stop_grace_seconds * 1000,
    version: o.version ?? VERSION,
    eventRetention: o.eventRetention ?? 100_000,
    requireSignatures: o.requireSignatures ?? DEFAULTS.require_signatures,
    warmStart: o.warmStart ?? DEFAULTS.warm_start,
    restart: {
      maxRestarts: o.restart?.maxRestarts ?? 5,
      windowMs: o.restart?.windowMs ?? 10 * 60_000,
      baseDelayMs: o.restart?.baseDelayMs ?? 1000,
      maxDelayMs: o.restart?.maxDelayMs ?? 60_000,
    },
    health: {
      timeoutMs: o.health?.timeoutMs ?? 120_000,
      intervalMs: o.health?.intervalMs ?? 1000,
    },
    downloads: { ...DOWNLOAD_DEFAULTS, ...o.downloads },
  };
}
