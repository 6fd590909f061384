/**
 * The public face of the services: what src/api (and tests) call. Records and
 * bodies are the zod-inferred types of src/manifest/api.ts, so the API layer
 * validates with the same schemas and passes the parsed values straight in.
 *
 * Every method throws `VolantError` for expected failures (not_found,
 * conflict, invalid_input, checksum_mismatch, exhausted, unavailable, ...).
 *
 * @module
 */
import type {
  ActionPayload,
  ActionResult,
  CreateVmBody,
  EventType,
  InstallPluginBody,
  PciList,
  PluginInstallResult,
  PluginRecord,
  ResourceType,
  SystemInfo,
  VersionedVmConfig,
  VmConfigHistoryEntry,
  VmConfigPatch,
  VmList,
  VmListQuery,
  VmRecord,
  VolantEvent,
} from "../manifest/api.ts";
import type { CreateSnapshotBody, RestoreVmBody, SnapshotRecord } from "../manifest/snapshot.ts";
import type { AddKeyBody, TrustedKey } from "../manifest/signing.ts";
import type { ExecRequest } from "../manifest/exec.ts";
import type { PtyRequest } from "../manifest/pty.ts";
import type { AgentSocket, ByteStream, GuestForward } from "./ports.ts";
import type {
  CreateDeploymentBody,
  DeploymentRecord,
  PatchDeploymentBody,
} from "../manifest/deployment.ts";

/** Plugin registry: install, enable/disable, remove, list, get. */
export interface PluginServiceApi {
  list(): PluginRecord[];
  /** Throws not_found. */
  get(name: string): PluginRecord;
  /**
   * Installs from a manifest object, a file path or an http(s)/file URL;
   * downloads and verifies every artifact. Same version = `unchanged`.
   */
  install(body: InstallPluginBody, opts?: { signal?: AbortSignal }): Promise<PluginInstallResult>;
  setEnabled(name: string, enabled: boolean): PluginRecord;
  /** Refuses (conflict) while VMs use the plugin unless `force`. */
  remove(name: string, opts?: { force?: boolean }): Promise<void>;
}

/** Trusted minisign keys (files under `<state_dir>/trusted_keys`). */
export interface KeyServiceApi {
  list(): Promise<TrustedKey[]>;
  /** Throws not_found. */
  get(name: string): Promise<TrustedKey>;
  /** Throws conflict for a taken name or an already trusted key id; invalid_input for a bad key. */
  add(body: AddKeyBody): Promise<TrustedKey>;
  /** Throws not_found. */
  remove(name: string): Promise<void>;
}

/** Where a VM's serial console lives (for logs / console routes). */
export interface VmConsoleTarget {
  name: string;
  state: VmRecord["state"];
  /** Unix socket of the serial console (set while the VMM runs). */
  serialSocket?: string;
  /** The serial log file (kept across stops). */
  serialLog: string;
}

/** VM lifecycle and config. Mutating calls resolve once the state is settled. */
export interface VmServiceApi {
  list(query: VmListQuery): VmList;
  get(name: string): VmRecord;
  create(body: CreateVmBody): Promise<VmRecord>;
  start(name: string): Promise<VmRecord>;
  stop(name: string, opts?: { graceMs?: number }): Promise<VmRecord>;
  restart(name: string, opts?: { graceMs?: number }): Promise<VmRecord>;
  delete(name: string, opts?: { graceMs?: number }): Promise<void>;
  getConfig(name: string): VersionedVmConfig;
  /** Async: a patched manifest is re-checked against the kernel command-line budget. */
  patchConfig(name: string, patch: VmConfigPatch): Promise<VersionedVmConfig>;
  /** Newest first; `limit` absent = all. */
  configHistory(name: string, limit?: number): VmConfigHistoryEntry[];
  console(name: string): VmConsoleTarget;
}

/** Which events a subscriber wants. `types` entries may be a family: `vm.*`. */
export interface EventFilter {
  types?: string[];
  resource?: string;
  resourceType?: ResourceType;
}

/** A live subscription: replays from the table after `after`, then follows live. */
export interface EventSubscription extends AsyncIterable<VolantEvent> {
  /** The id of the last event handed out (for SSE resume bookkeeping). */
  readonly lastId: number;
  close(): void;
}

export interface EventBusApi {
  publish(
    type: EventType,
    resourceType: ResourceType,
    resource: string,
    data?: Record<string, unknown>,
  ): VolantEvent;
  /** Persisted events with id > `after`, oldest first. */
  list(opts: { filter?: EventFilter; after?: number; limit?: number }): VolantEvent[];
  /** Never drops: a slow subscriber re-reads from the table. Ends on close() or signal. */
  subscribe(
    opts: { filter?: EventFilter; after?: number; signal?: AbortSignal },
  ): EventSubscription;
  /** The newest id (0 when none). */
  lastId(): number;
}

export interface SystemServiceApi {
  info(): Promise<SystemInfo>;
  /** Host PCI devices a VM could be given, and whether this host can pass any. */
  pci?(): Promise<PciList>;
}

/** Plugin actions and the workload's OpenAPI document, through kestrel. */
export interface ActionServiceApi {
  /** Runs `action` of the VM's plugin on that VM; `plugin`, when given, must be the VM's. */
  invokeOnVm(
    vm: string,
    action: string,
    payload: ActionPayload,
    opts?: { plugin?: string; signal?: AbortSignal },
  ): Promise<ActionResult>;
  /** Runs `action` on a healthy running VM of `plugin` (conflict when there is none). */
  invokeOnPlugin(
    plugin: string,
    action: string,
    payload: ActionPayload,
    opts?: { signal?: AbortSignal },
  ): Promise<ActionResult>;
  /** The document the manifest's `openapi` names, fetched from the workload. */
  openapi(vm: string, opts?: { signal?: AbortSignal }): Promise<{
    contentType: string;
    body: Uint8Array;
  }>;
}

/** The bundle createServices returns. */
export interface Services {
  plugins: PluginServiceApi;
  vms: VmServiceApi;
  events: EventBusApi;
  system: SystemServiceApi;
  keys: KeyServiceApi;
  actions: ActionServiceApi;
  /** Deployments (replicas kept converged by the deployment controller). */
  deployments: DeploymentServiceApi;
  /** VM snapshots: save, list, delete, restore (src/service/snapshots). */
  snapshots?: SnapshotServiceApi;
  /** The guest agent of running VMs: proxy, exec, serial console (guest_service.ts). */
  guest: GuestServiceApi;
  /** Reconcile/adopt VMs recorded as active; call once at daemon start. */
  start(): Promise<void>;
  /** Stops watchers and health pollers (VMs keep running: they are detached). */
  close(): Promise<void>;
}

/** VM snapshots: what src/api calls (implemented in snapshots/service.ts). */
export interface SnapshotServiceApi {
  create(vm: string, body: CreateSnapshotBody): Promise<SnapshotRecord>;
  list(vm: string): Promise<SnapshotRecord[]>;
  get(vm: string, name: string): Promise<SnapshotRecord>;
  remove(vm: string, name: string): Promise<void>;
  restore(vm: string, body: RestoreVmBody): Promise<VmRecord>;
  /**
   * Before a request through the agent proxy: counts it as activity and wakes
   * a VM parked by scale to zero (held until it answers). Returns the
   * function to call once the request is over.
   */
  enterAgent(vm: string): Promise<() => void>;
  /** Takes (or replaces) a plugin's ready snapshot for warm starts. */
  warm(plugin: string): Promise<SnapshotRecord>;
  warmInfo(plugin: string): Promise<SnapshotRecord>;
  unwarm(plugin: string): Promise<void>;
  /** `vms create`, restoring a clone of the plugin's ready snapshot when it has one. */
  createVm(body: CreateVmBody): Promise<VmRecord>;
}

/** A running VM's agent and console, reached through the GuestAgent and SerialDialer ports. */
export interface GuestServiceApi {
  /** Streams one exchange to the VM's agent, with the VM's agent key (the agent proxy). */
  forward(vm: string, req: GuestForward): Promise<Response>;
  /** Runs a process in the VM: the agent's NDJSON stream (src/manifest/exec.ts). */
  exec(vm: string, body: ExecRequest, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>>;
  /** An interactive process on a terminal in the VM, as a WebSocket (src/manifest/pty.ts). */
  openPty(vm: string, req: PtyRequest): Promise<AgentSocket>;
  /** Opens the VM's serial console. */
  openConsole(vm: string): Promise<ByteStream>;
  /** A file or tree of the VM as a tar stream. */
  readFiles(
    vm: string,
    where: { path: string; root?: string },
    signal?: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>>;
  /** Extracts a tar stream into a directory of the VM. */
  writeFiles(
    vm: string,
    where: { path: string; root?: string },
    body: ReadableStream<Uint8Array<ArrayBuffer>>,
    signal?: AbortSignal,
  ): Promise<{ entries: number; bytes: number }>;
}

/** Deployments: what src/api calls (implemented in deployments/service.ts). */
export interface DeploymentServiceApi {
  list(): Promise<DeploymentRecord[]>;
  get(name: string): Promise<DeploymentRecord>;
  create(body: CreateDeploymentBody): Promise<DeploymentRecord>;
  /** Scale (`replicas`), new config (`config`, a rolling update) and/or new `strategy`. */
  patch(name: string, body: PatchDeploymentBody): Promise<DeploymentRecord>;
  /** A new revision holding the config before the current one. */
  rollback(name: string): Promise<DeploymentRecord>;
  /** Marks the deployment for deletion; the controller removes replicas, then the row. */
  delete(name: string): Promise<DeploymentRecord>;
  /** The deployment owning VM `vm` (its replicas are not editable as loose VMs). */
  ownerOf(vm: string): string | undefined;
}
