/**
 * Kernel command line assembly, pure. Order: base flags, tsc_early_khz under
 * TCG, the VM's network and identity (`volant.*`), the user's extra args,
 * and `volant.manifest` last so nothing after it can override it. The result
 * is checked against the x86-64 budget.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import {
  checkCmdlineBudget,
  CMDLINE_KEYS,
  CMDLINE_LIMIT,
  encodeManifest,
  encodeRunSpec,
  joinCmdline,
  parseCmdline,
  type PluginManifest,
} from "../manifest/mod.ts";

export const BASE_ARGS = ["console=ttyS0", "panic=-1", "reboot=t"] as const;

export interface CmdlineInput {
  manifest: PluginManifest;
  /** Guest address without prefix. */
  ip: string;
  prefix: number;
  gateway: string;
  dns?: string[];
  mtu?: number;
  hostname: string;
  /** Host TSC kHz when the VMM runs under TCG. */
  tscKhz?: number;
  /** Arguments the hypervisor driver asks for (Hypervisor.extraKernelArgs), after the base. */
  driverArgs?: string[];
  boot: "auto" | "initramfs" | "rootfs";
  /** Guest device of the rootfs (`vdb` normally), when there is one. */
  rootfsDevice?: string;
  rootfsFstype?: string;
  /** Guest device of the agent image (`vda`), when attached. */
  agentDevice?: string;
  /** User extra args (validated: no quotes/newlines, no volant.manifest). */
  extra?: string;
  /** `bridged` (default) carries the static address; `dhcp`/`vsock` leave it to the guest. */
  network?: "bridged" | "dhcp" | "vsock";
  /** Kernel IP autoconfiguration (`ip=...`) for guests that configure no network themselves. */
  kernelIp?: string;
  /** The VM's agent key for this boot (agent_key.ts). */
  agentKey?: string;
  /** The key goes over the agent channel instead (`volant.agent_channel=1`). */
  agentChannel?: boolean;
  /**
   * Workload first: add `volant.run` so the shim starts the workload before
   * kestrel (our guests with a static address; left out when it does not fit).
   */
  workloadFirst?: boolean;
}

/** Keys the user may not set through extra args (they would break the channel). */
const RESERVED = new Set<string>([
  CMDLINE_KEYS.manifest,
  CMDLINE_KEYS.run,
  CMDLINE_KEYS.agentKey,
  CMDLINE_KEYS.agentChannel,
]);

/** Checks user extra args; throws invalid_input naming `field`. */
export function checkExtraArgs(extra: string, field = "kernel_cmdline"): void {
  if (/["\n\0]/.test(extra)) {
    throw new VolantError("invalid_input", `${field}: must not contain quotes or newlines`, {
      problems: [{ field, message: "must not contain quotes or newlines" }],
    });
  }
  for (const key of parseCmdline(extra).keys()) {
    if (RESERVED.has(key)) {
      throw new VolantError("invalid_input", `${field}: ${key} is set by volantd`, {
        problems: [{ field, message: `${key} is set by volantd and cannot be overridden` }],
      });
    }
  }
}

export async function assembleCmdline(input: CmdlineInput): Promise<string> {
  const extra = (input.extra ?? "").trim();
  checkExtraArgs(extra);
  const base: string[] = [...BASE_ARGS];
  const driverArgs = input.driverArgs ?? [];
  if (input.tscKhz !== undefined && !driverArgs.some((a) => a.startsWith("tsc_early_khz="))) {
    base.push(`tsc_early_khz=${Math.round(input.tscKhz)}`);
  }
  for (const arg of driverArgs) {
    if (/["\n\0]/.test(arg) || /^volant\./.test(arg)) {
      throw new VolantError(
        "internal",
        `hypervisor driver asked for a bad kernel argument: ${arg}`,
      );
    }
    base.push(arg);
  }
  if (input.kernelIp) base.push(input.kernelIp);
  const pairs: [string, string][] = [];
  if ((input.network ?? "bridged") === "bridged") {
    pairs.push([CMDLINE_KEYS.ip, `${input.ip}/${input.prefix}`], [
      CMDLINE_KEYS.gateway,
      input.gateway,
    ]);
  }
  if (input.network === "dhcp") pairs.push([CMDLINE_KEYS.network, "dhcp"]);
  if (input.dns && input.dns.length > 0) pairs.push([CMDLINE_KEYS.dns, input.dns.join(",")]);
  if (input.mtu !== undefined) pairs.push([CMDLINE_KEYS.mtu, String(input.mtu)]);
  pairs.push(
    [CMDLINE_KEYS.hostname, input.hostname],
    [CMDLINE_KEYS.plugin, input.manifest.name],
    [CMDLINE_KEYS.runtime, input.manifest.runtime ?? input.manifest.name],
    [CMDLINE_KEYS.boot, input.boot],
  );
  if (input.rootfsDevice) {
    pairs.push([CMDLINE_KEYS.rootfsDevice, input.rootfsDevice]);
    if (input.rootfsFstype) pairs.push([CMDLINE_KEYS.rootfsFstype, input.rootfsFstype]);
  }
  if (input.agentDevice) pairs.push([CMDLINE_KEYS.agentDevice, input.agentDevice]);
  if (input.agentKey) pairs.push([CMDLINE_KEYS.agentKey, input.agentKey]);
  if (input.agentChannel) pairs.push([CMDLINE_KEYS.agentChannel, "1"]);
  const head = joinCmdline(base, pairs);
  // The guest agent never reads cloud_init (the seed disk carries it): keep it off the budget.
  const { cloud_init: _seeded, ...forGuest } = input.manifest;
  const manifestArg = `${CMDLINE_KEYS.manifest}=${await encodeManifest(forGuest)}`;
  const cmdline = [head, extra, manifestArg].filter((s) => s.length > 0).join(" ");
  checkCmdlineBudget(cmdline, input.manifest);
  const run = input.workloadFirst ? runArg(input) : null;
  if (run === null) return cmdline;
  const withRun = [head, run, extra, manifestArg].filter((s) => s.length > 0).join(" ");
  // Only a speed-up: a manifest that fills the budget boots the workload through kestrel.
  return new TextEncoder().encode(withRun).length < CMDLINE_LIMIT ? withRun : cmdline;
}

/** `volant.run=...` for the shim, or null when the workload cannot ride that way. */
function runArg(input: CmdlineInput): string | null {
  const rootfs = input.boot === "rootfs" ||
    (input.boot === "auto" && input.manifest.rootfs !== undefined);
  const spec = encodeRunSpec(input.manifest, rootfs);
  return spec === null ? null : `${CMDLINE_KEYS.run}=${spec}`;
}
