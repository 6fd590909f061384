/**
 * Builds the adapters the services get: host networking (only as root and
 * unless disabled; bridge + NAT ensured here, guarding the API port) and the
 * hypervisor driver. A missing adapter is not fatal: the services answer VM
 * starts with 503 naming what is missing, and the log says why.
 *
 * @module
 */
import type { ResolvedConfig } from "../config/mod.ts";
import { VolantError } from "../errors.ts";
import type { Logger } from "../log/mod.ts";
import type { HostNetwork, Hypervisor } from "../service/ports.ts";
import { formatIpv4, networkNumber, splitCidr } from "../shared/ipv4.ts";

/** Gateway CIDR of a subnet: first host address with the subnet's prefix. */
export function gatewayCidr(subnet: string): string {
  const cidr = splitCidr(subnet);
  if (!cidr) {
    const message = `"${subnet}" is not an IPv4 CIDR`;
    throw new VolantError("invalid_input", `subnet: ${message}`, {
      problems: [{ field: "subnet", message }],
    });
  }
  const { address, prefix } = cidr;
  return `${formatIpv4(networkNumber(address, prefix) + 1)}/${prefix}`;
}

/** Ports of the host guests must not reach (the API when it listens on TCP). */
export function guardedPorts(listen: string): number[] {
  const m = /:(\d+)$/.exec(listen);
  return m ? [Number(m[1])] : [];
}

export interface NetworkChoice {
  network?: HostNetwork;
  /** Why there is none, for logs and 503s. */
  reason?: string;
}

/** Host networking if we may and can; ensures the bridge and NAT once. */
export async function buildHostNetwork(
  config: ResolvedConfig,
  opts: { disabled: boolean; uid: number | null },
  log: Logger,
): Promise<NetworkChoice> {
  if (opts.disabled) {
    const reason = "host networking disabled (--no-host-network)";
    log.warn("host networking skipped: VM starts will answer 503", { reason });
    return { reason };
  }
  if (opts.uid !== 0) {
    const reason = "host networking needs root (volantd runs as uid " + opts.uid + ")";
    log.warn("host networking skipped: VM starts will answer 503", { reason });
    return { reason };
  }
  const { createHostNetwork } = await import("../net/mod.ts");
  const network = createHostNetwork();
  const gw = gatewayCidr(config.subnet);
  await network.ensureBridge({ name: config.bridge, gatewayCidr: gw, mtu: config.mtu });
  const guard = guardedPorts(config.listen);
  await network.ensureNat({ bridge: config.bridge, subnet: config.subnet, guardHostPorts: guard });
  log.info("host network ready", { bridge: config.bridge, gateway: gw, guarded_ports: guard });
  return { network };
}

export interface HypervisorChoice {
  hypervisor?: Hypervisor;
  reason?: string;
}

/**
 * The configured hypervisor driver, with its availability logged (unusable is
 * not fatal). For QEMU the accelerator is decided here, once: the probe's
 * verdict is logged with its reason, and `--accel kvm` on a host whose KVM
 * cannot boot the guest throws (the daemon stops at start with that line).
 */
export async function buildHypervisor(
  config: ResolvedConfig,
  log: Logger,
): Promise<HypervisorChoice> {
  const roots = { runtimeRoot: config.runtimeDir, stateRoot: `${config.stateDir}/vms` };
  let hypervisor: Hypervisor;
  if (config.hypervisor === "qemu") {
    const { QemuDriver } = await import("../vmm/qemu/driver.ts");
    const { accelResolverFor } = await import("../vmm/accel/mod.ts");
    const accel = accelResolverFor(config, {
      onCacheError: (message) => log.debug("accel probe not cached", { why: message }),
    });
    const d = await accel.decision();
    const fields = {
      accel: d.accel,
      mode: d.mode,
      reason: d.reason,
      probe_ms: d.probeMs,
      cached: d.cached,
      provisional: d.provisional,
    };
    if (d.mode === "auto" && d.accel === "tcg") log.warn("accelerator: tcg", fields);
    else log.info(`accelerator: ${d.accel}`, fields);
    const { resolveJail } = await import("../vmm/jail.ts");
    const { jail, status } = await resolveJail({ enabled: config.jail, user: config.vmmUser });
    const jailFields = { user: status.user, uid: status.uid, cgroup: status.cgroup };
    if (jail) {
      log.info("vmm jail on", { ...jailFields, seccomp: status.seccomp, notes: status.notes });
    } else log.warn("vmm jail off: VMMs run with the daemon's privileges", { notes: status.notes });
    hypervisor = new QemuDriver({ ...roots, accel, jail, jailStatus: status });
  } else {
    if (config.accel === "tcg") {
      throw new VolantError(
        "invalid_input",
        "accel tcg: cloud-hypervisor runs only on KVM; use --hypervisor qemu for tcg",
        { problems: [{ field: "accel", message: "tcg needs --hypervisor qemu" }] },
      );
    }
    const { CloudHypervisorDriver } = await import("../vmm/cloud_hypervisor/driver.ts");
    hypervisor = new CloudHypervisorDriver(roots);
  }
  const available = await hypervisor.available();
  if (available.ok) {
    log.info("hypervisor ready", { kind: hypervisor.kind });
    return { hypervisor };
  }
  log.warn("hypervisor not usable: VM starts will answer 503", {
    kind: hypervisor.kind,
    reason: available.reason,
  });
  return { hypervisor, reason: available.reason };
}
