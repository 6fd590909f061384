/**
 * Ports: the interfaces the services call. Adapters (src/vmm, src/net,
 * src/store) implement them; src/daemon wires them; services never import an
 * adapter. Keep changes additive: several components code against these.
 *
 * @module
 */

/** Which machine model a VM boots on. `microvm` = virtio-mmio; `q35` = virtio-pci (as Cloud Hypervisor). */
export type MachineKind = "microvm" | "q35";

/** A disk handed to the hypervisor. Paths are host paths the daemon owns. */
export interface DiskSpec {
  /** Stable id, also the guest-visible order (first disk = vda). */
  id: string;
  /** The image to attach (shared artifact, or the per-VM overlay built by `prepare`). */
  path: string;
  format: "raw" | "qcow2";
  readonly: boolean;
  /**
   * For a writable disk over a shared read-only image: the image the driver
   * backs a per-VM copy-on-write overlay with (created once by `prepare`, kept
   * across stop/start, removed by `destroy`).
   */
  backingImage?: string;
}

/** Everything a driver needs to boot one VM. Built by the service, pure data. */
export interface VmSpec {
  /** Validated DNS label. */
  name: string;
  /** `/run/volant/vms/<name>`: pid, api/qmp socket, serial socket, serial log. */
  runtimeDir: string;
  /** Per-VM persistent dir under the state dir (overlays): `<state>/vms/<name>`. */
  stateDir: string;
  kernel: string;
  initramfs?: string;
  disks: DiskSpec[];
  cpus: number;
  memoryMb: number;
  /** The full kernel command line, already budget-checked. */
  cmdline: string;
  net?: { tap: string; mac: string };
  machine: MachineKind;
  vsock?: { cid: number };
  /**
   * The agent channel's host end (docs/kestrel.md "Agent channel"): a unix socket the VMM
   * listens on (QEMU: a virtio-serial port named `org.volant.agent`); the daemon dials it.
   * A driver that cannot offer the port ignores it.
   */
  agentChannel?: string;
  /** Host PCI devices passed through (VFIO, `DDDD:BB:DD.F`), already bound to vfio-pci. */
  pciDevices?: string[];
  /** Serial log size cap in bytes (the driver or supervisor trims beyond it). */
  serialLogMaxBytes: number;
  /**
   * Set by a VMM driver restoring a snapshot, never by the service: the
   * snapshot's RAM image the new VMM maps as guest memory (the jail must let
   * it open the file).
   */
  ramImage?: string;
}

/** A running (or adopted) VMM process. `startTime` guards against recycled pids. */
export interface VmProcess {
  name: string;
  pid: number;
  /** Process start time from /proc/<pid>/stat (field 22), as a string. */
  startTime: string;
  runtimeDir: string;
  /** Where the serial console is: a unix socket path. */
  serialSocket: string;
  serialLog: string;
}

/** What `exited` resolves with. `code` null = killed by a signal. */
export interface VmExit {
  code: number | null;
  signal: string | null;
  /** True when the exit was asked for (shutdown/kill through the driver). */
  requested: boolean;
  /**
   * Set when the driver ended the VMM because the guest rebooted or panicked
   * (Cloud Hypervisor reboots a guest in place; Volant treats that as a crash
   * for the restart policy). Absent otherwise.
   */
  guest?: "reboot" | "panic";
  /** Set when the kernel killed the VMM at its cgroup's memory limit (the QEMU jail). */
  oom?: boolean;
}

export interface VmInfo {
  state: "running" | "paused" | "shutdown" | "unknown";
  raw?: unknown;
}

/** Which accelerator the VMM runs guests with, and why (the probe's verdict). */
export interface AccelInfo {
  /** What was asked for: `auto` probes, `kvm` / `tcg` force. */
  mode: "auto" | "kvm" | "tcg";
  /** What VMs get. */
  accel: "kvm" | "tcg";
  /** One sentence, e.g. "kvm unusable: guest printed nothing in 3 s; using tcg". */
  reason: string;
  /** When the boot probe ran (null when it did not run). */
  probedAt: string | null;
  probeMs: number | null;
  /** True when the probe's answer came from the on-disk cache. */
  cached: boolean;
}

/** One hypervisor driver (QEMU or Cloud Hypervisor). */
export interface Hypervisor {
  readonly kind: "qemu" | "cloud-hypervisor";
  /**
   * True when the driver gives every VM the agent channel (QEMU: a virtio-serial port at
   * `VmSpec.agentChannel`; Cloud Hypervisor: a vsock device, `vsock.sock` in the runtime dir).
   * The key then goes in the channel's hello, not on the kernel command line.
   */
  readonly agentChannel?: boolean;
  /** True when this driver can run on this host; otherwise the reason. */
  available(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /**
   * Kernel arguments this driver needs on this host, for the service to append
   * to `VmSpec.cmdline` (QEMU under TCG: `tsc_early_khz=<host kHz>`). Optional.
   */
  extraKernelArgs?(): Promise<string[]>;
  /** The accelerator decision this driver boots with. Optional. */
  accelerator?(): Promise<AccelInfo>;
  /** What the VMM jail does on this host (QEMU; docs/security.md). Optional. */
  readonly jailStatus?: {
    enabled: boolean;
    user: string | null;
    uid: number | null;
    gid: number | null;
    seccomp: boolean;
    cgroup: "v1" | "v2" | null;
    mountNs: boolean;
    notes: string[];
  };
  /**
   * The VMM's identity for snapshots (binary version and accelerator): a
   * snapshot taken under another is refused. Optional.
   */
  version?(): Promise<string>;

  /** Creates the runtime dir and per-VM overlays; idempotent. */
  prepare(spec: VmSpec): Promise<void>;
  /** Spawns the VMM detached (own session) and returns once its pid is known. */
  boot(spec: VmSpec): Promise<VmProcess>;
  /** Graceful power-down (ACPI / API), then kill after `graceMs`. Resolves once exited. */
  shutdown(proc: VmProcess, opts: { graceMs: number }): Promise<void>;
  kill(proc: VmProcess): Promise<void>;
  pause?(proc: VmProcess): Promise<void>;
  resume?(proc: VmProcess): Promise<void>;
  info(proc: VmProcess): Promise<VmInfo>;
  /** Re-attaches to a VMM from its runtime dir after a daemon restart; null if it is gone. */
  adopt(name: string, runtimeDir: string): Promise<VmProcess | null>;
  /** Resolves when the process exits (pidfd for adopted processes). */
  exited(proc: VmProcess): Promise<VmExit>;
  /** Removes the runtime dir and per-VM state (overlays); the VM must be stopped. */
  destroy(spec: Pick<VmSpec, "name" | "runtimeDir" | "stateDir">): Promise<void>;
  /**
   * Optional (Cloud Hypervisor, QEMU): writes a snapshot of a running or paused VM
   * into `dir` (absolute; created if missing, else it must be empty). The VM is
   * paused for the copy and resumed unless `resume: false`. Slow: it copies all
   * guest memory. See docs/hypervisors.md.
   */
  snapshot?(proc: VmProcess, dir: string, opts?: { resume?: boolean }): Promise<void>;
  /**
   * Optional (Cloud Hypervisor, QEMU): restores `spec`'s VM from a snapshot `dir` of
   * that same VM into a new VMM (its previous VMM must have exited); resumes it
   * unless `resume: false`. Returns the new process (tracked like a boot).
   */
  restore?(
    spec: VmSpec,
    dir: string,
    opts?: { resume?: boolean; prefault?: boolean },
  ): Promise<VmProcess>;
}

/** Host networking, implemented by src/net through FFI. */
/** One allow-list entry of a VM's egress policy. */
export interface EgressRule {
  cidr: string;
  ports?: number[];
  protocol?: "tcp" | "udp";
}

/** A VM's network policy: `network.egress` and `network.isolation` of its config. */
export interface VmNetPolicy {
  tap: string;
  ip: string;
  egress: "allow-all" | "deny-all" | { allow: EgressRule[] };
  isolation: boolean;
}

export interface HostNetwork {
  /** Bridge exists, has `gatewayCidr` (e.g. 192.168.127.1/24) and a fixed MAC, is up. */
  ensureBridge(opts: { name: string; gatewayCidr: string; mtu?: number }): Promise<void>;
  /** ip_forward on, and the `inet volant` nftables table: masquerade, forward, guard the host. */
  ensureNat(opts: { bridge: string; subnet: string; guardHostPorts?: number[] }): Promise<void>;
  removeNat(): Promise<void>;
  /** Persistent TAP attached to `bridge` and up; idempotent. */
  ensureTap(opts: { name: string; bridge: string; owner?: number }): Promise<void>;
  /** Deletes a TAP; a missing one is fine. */
  deleteTap(name: string): Promise<void>;
  /**
   * Applies a VM's egress/isolation policy (keyed by its TAP; cleared when the
   * TAP is deleted). Optional: without it policies are not enforced.
   */
  applyVmPolicy?(policy: VmNetPolicy): Promise<void>;
  /** Removes Volant TAPs (recognised by prefix) not in `owned`; returns the removed names. */
  sweepTaps(owned: ReadonlySet<string>): Promise<string[]>;
}

/** One `volar plugins install --image` request, for the {@linkcode ImageConverter}. */
export interface ImageConvertInput {
  /** `[registry/]repo[:tag][@digest]`, `oci:DIR[:tag]` or `docker-archive:FILE`. */
  image: string;
  /** Plugin name (default: from the repository). */
  name?: string;
  /** The workload's port (default: the image's lowest exposed TCP port). */
  port?: number;
  /** `os/arch[/variant]` (default linux/amd64). */
  platform?: string;
  /** Plain HTTP to the image's registry. */
  insecureRegistry?: boolean;
  signal?: AbortSignal;
  /** Blob download progress. */
  onProgress?: (blob: string, bytes: number, total: number | undefined) => void;
}

/** A converted image: a manifest file beside its rootfs, until `dispose()`. */
export interface ImageConvertResult {
  manifestPath: string;
  /** The image's manifest digest (the rootfs is content-addressed by it). */
  digest: string;
  /** Removes the manifest directory (the shared rootfs cache stays). */
  dispose(): Promise<void>;
}

/** Turns an OCI image into a rootfs plugin (src/builder/oci behind it). */
export interface ImageConverter {
  convert(input: ImageConvertInput): Promise<ImageConvertResult>;
}

/** What the in-guest agent (kestrel) answered on a health probe. */
export interface GuestHealth {
  ok: boolean;
  /** HTTP status, when the agent answered at all. */
  status?: number;
  /** Why not ok: connection refused, timeout, body text. */
  detail?: string;
}

/**
 * Where one VM's agent is and the key it demands (docs/security.md): services
 * may address the agent by IP alone; the service layer then adds the key.
 */
export interface GuestTarget {
  ip: string;
  /** The VM's agent key (header `x-volant-agent-key`); absent = none sent. */
  key?: string;
  /** The VM, for messages. */
  name?: string;
  /**
   * The VM's agent channel socket (VmSpec.agentChannel). When the VMM offers it the client
   * talks to kestrel over it, else over `ip:8080`; a VM without a NIC has only this.
   */
  channel?: string;
}

/** One streamed HTTP exchange with kestrel (the agent proxy, exec). */
export interface GuestForward {
  method: string;
  /** The agent's path with its query, e.g. `/v1/items?x=1`. */
  path: string;
  headers?: Headers;
  body?: ReadableStream<Uint8Array<ArrayBuffer>> | Uint8Array<ArrayBuffer> | string | null;
  signal?: AbortSignal;
}

/** A WebSocket with the agent (the PTY exec session); src/shared/websocket.ts's client satisfies it. */
export interface AgentSocket {
  /** The agent's messages (text or binary) until it closes. */
  messages(): AsyncIterable<string | Uint8Array>;
  send(data: string | Uint8Array): Promise<void>;
  close(code?: number, reason?: string): void;
  readonly closed: Promise<{ code: number; reason: string }>;
}

/** HTTP client to kestrel on `http://<ip>:8080`, implemented by src/guest. */
export interface GuestAgent {
  /**
   * GET /healthz (or `url`, a Volant-contract workload's own health URL) with a
   * short timeout; never throws for an unreachable guest.
   */
  health(
    ip: string | GuestTarget,
    opts?: { timeoutMs?: number; signal?: AbortSignal; url?: string },
  ): Promise<GuestHealth>;
  /** GET /v1/status; throws VolantError upstream/unavailable when the guest does not answer. */
  status(
    ip: string | GuestTarget,
    opts?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<unknown>;
  /**
   * One HTTP exchange with kestrel (plugin actions, the workload's OpenAPI
   * document). Throws VolantError `upstream` when the agent does not answer
   * or the body exceeds `maxBytes`; any HTTP status is returned as is.
   */
  request?(ip: string | GuestTarget, req: GuestRequest): Promise<GuestResponse>;
  /**
   * A streamed exchange: the agent's status, headers and body as they come
   * (no size cap, no timeout beyond `signal`). Throws VolantError `upstream`
   * when the agent cannot be reached.
   */
  forward?(target: GuestTarget, req: GuestForward): Promise<Response>;
  /**
   * A WebSocket to the agent at `path` (with its query); a refused upgrade
   * comes back as the agent's Response. Throws VolantError `upstream` when
   * the agent cannot be reached.
   */
  websocket?(target: GuestTarget, path: string): Promise<AgentSocket | Response>;
}

/** A duplex byte stream (a unix socket connection): `Deno.Conn` satisfies it. */
export interface ByteStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  close(): void;
}

/** Opens a VM's serial console socket; src/daemon builds it (tests pass a fake). */
export interface SerialDialer {
  /** Throws VolantError `upstream` when the socket cannot be reached. */
  open(socketPath: string): Promise<ByteStream>;
}

/** A request to kestrel: `path` is the agent's, e.g. `/v1/cgi-bin/status`. */
export interface GuestRequest {
  method: string;
  path: string;
  body?: string;
  contentType?: string;
  timeoutMs: number;
  /** Largest body accepted back (default 4 MiB). */
  maxBytes?: number;
  signal?: AbortSignal;
}

/** What kestrel (or the workload behind it) answered. */
export interface GuestResponse {
  status: number;
  contentType: string;
  body: Uint8Array;
}

/** One PCI device a guest could be given (GET /api/v1/system/pci). */
export interface PciDeviceInfo {
  /** `DDDD:BB:DD.F`. */
  address: string;
  /** `vvvv` / `dddd`, lower-case hex without `0x`. */
  vendor: string;
  device: string;
  /** PCI class, `cccccc`. */
  class: string;
  /** The bound driver, or null. */
  driver: string | null;
  /** IOMMU group number, or null when the host has no IOMMU for it. */
  iommu_group: number | null;
  /** Every device of that group (itself included). */
  group_devices: string[];
}

/** What a VM's VFIO binding replaced, so stop can give the devices back. */
export interface PciBinding {
  address: string;
  /** The driver before vfio-pci (null: none was bound). */
  original_driver: string | null;
}

/** VFIO PCI passthrough on the host, implemented by src/vmm/vfio over sysfs. */
export interface PciPassthrough {
  /** Whether this host can pass devices at all (IOMMU, vfio-pci, /dev/vfio), and why not. */
  capability(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Every PCI device with its group and driver. */
  list(): Promise<PciDeviceInfo[]>;
  /**
   * Throws a VolantError naming `devices.pci_passthrough[i]` (or
   * `devices.pci_passthrough` when the host cannot pass devices at all) unless
   * every address exists, has a known IOMMU group whose every device is passed
   * too or already bound to vfio-pci, and matches `allowlist` (`vvvv:dddd` / `vvvv:*`).
   */
  check(addresses: readonly string[], allowlist: readonly string[] | undefined): Promise<void>;
  /**
   * Binds the devices to vfio-pci for VM `vm` (driver_override); what they were
   * bound to before is kept on disk under the VM's name, so a restarted daemon
   * can still give them back.
   */
  bind(vm: string, addresses: readonly string[]): Promise<PciBinding[]>;
  /** Gives VM `vm`'s devices back to their original drivers; idempotent (none: no-op). */
  restore(vm: string): Promise<PciBinding[]>;
}

/** One file of a cloud-init NoCloud seed (`user-data`, `meta-data`, `network-config`). */
export interface SeedFile {
  name: "user-data" | "meta-data" | "network-config" | "vendor-data";
  content: string;
}

/** Writes cloud-init NoCloud seed images (`cidata`), implemented by src/vmm/seed. */
export interface SeedWriter {
  /** Whether the tools it needs are on this host, and how to install them if not. */
  available(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Writes a fresh seed image at `path` (replacing one there) holding `files`. */
  write(path: string, files: readonly SeedFile[]): Promise<void>;
}
