/**
 * Every default of volantd's configuration, in one place. Keys are the
 * config-file keys; flags are the same words with dashes (`--state-dir`),
 * env vars are `VOLANT_` + upper case (`VOLANT_STATE_DIR`).
 *
 * @module
 */

/** Default build cache (kernel, agent image): `deno task kernel` / `deno task agent` write here. */
export const DEFAULT_CACHE_DIR = "/var/cache/volant";

export const DEFAULTS = {
  /** SQLite file, api-token, artifact store, per-VM overlays. */
  state_dir: "/var/lib/volant",
  /** The API's unix socket (mode 0660, root only). */
  socket: "/run/volant/volantd.sock",
  /** Optional TCP listener `HOST:PORT`; empty = unix socket only. TCP requires a bearer token. */
  listen: "",
  bridge: "vbr0",
  subnet: "192.168.127.0/24",
  /** First and last address VMs may get; empty = network+100 (Volant's `.100`) .. broadcast-1. */
  pool_start: "",
  pool_end: "",
  /** Guests' DNS servers; empty = the host's upstream resolvers (src/daemon/host_dns.ts), "none" = none. */
  dns: "",
  mtu: 1500,
  hypervisor: "qemu",
  /** `auto` = KVM when a bounded probe boot of the guest kernel under KVM works, else TCG. */
  accel: "auto",
  /** Default machine model for new VMs. */
  machine: "microvm",
  /** Per-VM runtime dirs: pid, QMP/API socket, serial socket and log. */
  runtime_dir: "/run/volant/vms",
  cache_dir: DEFAULT_CACHE_DIR,
  /** Guest kernel; empty = `<cache_dir>/kernel/current/vmlinux`. */
  kernel: "",
  /** Shared read-only agent image; empty = `<cache_dir>/agent/current/agent.img`. */
  agent_image: "",
  /** Initramfs for rootfs-only plugins; empty = `<cache_dir>/agent/current/boot.cpio.gz`. */
  boot_initramfs: "",
  /** Serial log cap per VM, in bytes. */
  serial_log_max_bytes: 8 * 1024 * 1024,
  /** Seconds a VM gets to power off before it is killed. */
  stop_grace_seconds: 20,
  log_level: "info",
  /** Body manifests may download from loopback and private addresses (link-local never). */
  allow_private_sources: false,
  /** Largest artifact download, in bytes. */
  download_max_bytes: 8 * 1024 * 1024 * 1024,
  /** Seconds a download may wait for response headers, and for each chunk after them (x2). */
  download_timeout_seconds: 15,
  /** Refuse plugins whose manifest carries no minisign signature by a trusted key. */
  require_signatures: false,
  /**
   * Take every plugin's ready snapshot by itself once it is installed or updated, as
   * `volar plugins warm` does, so creates restore clones instead of booting (docs/api.md).
   */
  warm_start: false,
  /** Jail every VMM: its own user, seccomp sandbox, per-VM cgroup (docs/security.md). */
  jail: true,
  /** The jailed VMM's user (created as a system user if missing) or `UID:GID`. */
  vmm_user: "volant-vmm",
  /**
   * Memory a jailed VMM may use beyond guest RAM (its cgroup limit is guest RAM
   * plus this): QEMU's device model, TCG code cache and I/O buffers.
   */
  vmm_memory_overhead_mb: 320,
} as const;

export type ConfigKey = keyof typeof DEFAULTS;

/** Where the config file is looked for when neither --config nor VOLANT_CONFIG names one. */
export const DEFAULT_CONFIG_FILE = "/etc/volant/volantd.toml";
