/**
 * Builds the hypervisor's VmSpec for one VM from its row, its config and the
 * service options. Disk order is the guest contract (docs/development.md):
 * vda = the shared read-only agent image, vdb = the plugin's rootfs as a
 * per-VM copy-on-write overlay, then the manifest's disks.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { ArtifactRecord, VmConfig } from "../manifest/api.ts";
import { assembleCmdline } from "./cmdline.ts";
import { effectiveCloudInit, wantsSeed } from "./cloud_init.ts";
import type { Pool } from "./ipam.ts";
import type { ResolvedServiceOptions } from "./options.ts";
import type { DiskSpec, VmSpec } from "./ports.ts";
import type { StateStore, VmRow } from "./store_port.ts";
import { bootsVolantWay, kernelIpArg } from "./volant_boot.ts";

/**
 * Whether the daemon polls a VM's health: over the network for a bridged VM
 * (its address is known), over the agent channel for a VM without a NIC
 * (`vsock`) when the driver offers the channel. DHCP guests are not polled
 * (their address is the lease's).
 */
export function pollsHealth(
  hasGuest: boolean,
  hypervisor: { agentChannel?: boolean } | undefined,
  mode: "bridged" | "dhcp" | "vsock",
): boolean {
  if (!hasGuest) return false;
  return mode === "bridged" || (mode === "vsock" && hypervisor?.agentChannel === true);
}

/**
 * Whether VM row `id` has no NIC (network.mode "vsock"): it may hold a lease,
 * but only the agent channel reaches it, so its GuestTarget carries no address.
 */
export function hasNoNic(store: Pick<StateStore, "configs"> | undefined, id: number): boolean {
  return store?.configs.get(id)?.config.network?.mode === "vsock";
}

/** The agent channel's host socket of VM `name` (VmSpec.agentChannel, GuestTarget.channel). */
export function agentChannelPath(options: ResolvedServiceOptions, name: string): string {
  return `${vmRuntimeDir(options, name)}/agent.sock`;
}

export function vmRuntimeDir(options: ResolvedServiceOptions, name: string): string {
  return `${options.runtimeDir}/${name}`;
}

export function vmStateDir(options: ResolvedServiceOptions, name: string): string {
  return `${options.stateDir}/vms/${name}`;
}

function unavailable(what: string, hint: string): VolantError {
  return new VolantError("unavailable", `cannot start VMs: ${what} (${hint})`, {
    details: { missing: what },
  });
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function pinned(vm: VmRow, kind: ArtifactRecord["kind"], name: string): ArtifactRecord {
  const a = vm.artifacts.find((x) => x.kind === kind && x.name === name);
  if (!a) {
    throw new VolantError(
      "conflict",
      `vm ${vm.name}: its ${kind} artifact ${name} is not installed (reinstall plugin ${vm.plugin})`,
    );
  }
  return a;
}

const letter = (i: number) => `vd${String.fromCharCode("a".charCodeAt(0) + i)}`;

export interface SpecInput {
  vm: VmRow;
  config: VmConfig;
  options: ResolvedServiceOptions;
  pool: Pool;
  /** From Hypervisor.extraKernelArgs (e.g. tsc_early_khz under TCG). */
  driverArgs?: string[];
  /** This boot's agent key (agent_key.ts), put on the command line. */
  agentKey?: string;
  /** The driver hands the key over the agent channel (`volant.agent_channel=1` instead). */
  agentChannel?: boolean;
}

/**
 * The host files every boot of `manifest` needs (kernel, boot initramfs for
 * rootfs-only plugins, agent image): 503 naming the first one missing. Also
 * run before a create takes its lease, so a create that cannot boot holds nothing.
 */
export async function assertBootFiles(
  manifest: VmConfig["manifest"],
  plugin: string,
  options: ResolvedServiceOptions,
): Promise<{ kernel: string; bootInitramfs?: string }> {
  if (!options.kernel) {
    throw unavailable("no guest kernel is configured", "set --kernel or VOLANT_KERNEL");
  }
  if (!await isFile(options.kernel)) {
    throw unavailable(
      `the guest kernel ${options.kernel} does not exist`,
      "build it with `deno task kernel` or set --kernel",
    );
  }
  if (!manifest.initramfs) {
    if (!options.bootInitramfs) {
      throw unavailable(
        `plugin ${plugin} has only a rootfs and no boot initramfs is configured`,
        "build it with `deno task agent` or set boot_initramfs",
      );
    }
    if (!await isFile(options.bootInitramfs)) {
      throw unavailable(
        `the boot initramfs ${options.bootInitramfs} does not exist`,
        "deno task agent",
      );
    }
  }
  if (options.agentImage && !await isFile(options.agentImage)) {
    throw unavailable(`the agent image ${options.agentImage} does not exist`, "deno task agent");
  }
  return { kernel: options.kernel, bootInitramfs: options.bootInitramfs };
}

/** The spec, with every host file it names checked to exist first. */
export async function buildVmSpec(
  { vm, config, options, pool, driverArgs, agentKey, agentChannel }: SpecInput,
): Promise<VmSpec> {
  const manifest = config.manifest;
  const { kernel, bootInitramfs } = await assertBootFiles(manifest, vm.plugin, options);
  const initramfs = manifest.initramfs ? pinned(vm, "initramfs", "initramfs").path : bootInitramfs;
  const stateDir = vmStateDir(options, vm.name);
  const disks: DiskSpec[] = [];
  let agentDevice: string | undefined;
  // A guest with its own init and agent boots Volant's way: no agent disk, kernel ip=.
  const volantWay = manifest.initramfs !== undefined && bootsVolantWay(vm.artifacts);
  if (options.agentImage && !volantWay) {
    agentDevice = letter(disks.length);
    disks.push({ id: "agent", path: options.agentImage, format: "raw", readonly: true });
  }
  let rootfsDevice: string | undefined;
  if (manifest.rootfs) {
    const a = pinned(vm, "rootfs", "rootfs");
    rootfsDevice = letter(disks.length);
    disks.push({
      id: "rootfs",
      path: `${stateDir}/rootfs.qcow2`,
      format: "qcow2",
      readonly: false,
      backingImage: a.path,
    });
  }
  for (const d of manifest.disks ?? []) {
    const a = pinned(vm, "disk", d.name);
    const readonly = d.readonly ?? false;
    disks.push(
      readonly
        ? { id: `disk-${d.name}`, path: a.path, format: d.format ?? "raw", readonly: true }
        : {
          id: `disk-${d.name}`,
          path: `${stateDir}/disk-${d.name}.qcow2`,
          format: "qcow2",
          readonly: false,
          backingImage: a.path,
        },
    );
  }
  const mode = config.network?.mode ?? "bridged";
  const cmdline = await assembleCmdline({
    manifest,
    ip: mode === "bridged" ? vm.ip : "",
    prefix: pool.prefix,
    gateway: pool.gateway,
    dns: options.dns,
    mtu: options.mtu,
    hostname: vm.name,
    tscKhz: options.tscKhz,
    driverArgs,
    boot: manifest.initramfs && manifest.rootfs ? "auto" : manifest.rootfs ? "rootfs" : "initramfs",
    rootfsDevice,
    rootfsFstype: rootfsDevice ? "ext4" : undefined,
    agentDevice,
    extra: config.kernel_cmdline,
    network: mode,
    kernelIp: volantWay && mode === "bridged"
      ? kernelIpArg(vm.ip, pool.gateway, pool.prefix, vm.name)
      : undefined,
    agentKey,
    agentChannel,
    // A cloud-init guest's workload must wait for the seed kestrel hands over (cloud_init_seed.ts).
    workloadFirst: !volantWay && mode === "bridged" &&
      !wantsSeed(effectiveCloudInit(manifest.cloud_init, config.cloud_init)),
  });
  return {
    name: vm.name,
    runtimeDir: vmRuntimeDir(options, vm.name),
    stateDir,
    kernel,
    initramfs,
    disks,
    cpus: config.resources.cpu_cores,
    memoryMb: config.resources.memory_mb,
    cmdline,
    net: mode === "vsock" ? undefined : { tap: vm.tap, mac: vm.mac },
    machine: config.machine,
    vsock: mode === "vsock" ? { cid: 3 + vm.id } : undefined,
    agentChannel: agentChannelPath(options, vm.name),
    serialLogMaxBytes: options.serialLogMaxBytes,
  };
}
