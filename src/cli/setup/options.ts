/**
 * `volar setup` options: Volant v1's spellings (`--bridge --subnet --host-ip
 * --dry-run --runtime-dir --log-dir --service-file --work-dir --bzimage
 * --vmlinux`) plus `--agent-image --boot-initramfs --volantd --uninstall`,
 * each with its env fallback and default, validated up front (errors name
 * the flag). Pure: no host access.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import { formatIpv4, ipv4Number, prefixMask } from "../../shared/ipv4.ts";

/** Where setup puts things by default (the volantd defaults, src/config/defaults.ts). */
export const SETUP_DEFAULTS = {
  bridge: "vbr0",
  subnet: "192.168.127.0/24",
  workDir: "/var/lib/volant",
  runtimeDir: "/run/volant/vms",
  logDir: "/var/log/volant",
  serviceFile: "/etc/systemd/system/volantd.service",
  sysctlFile: "/etc/sysctl.d/60-volant.conf",
  /** The API socket's directory (volantd's default socket is /run/volant/volantd.sock). */
  socketDir: "/run/volant",
  cacheDir: "/var/cache/volant",
} as const;

export interface SetupOptions {
  bridge: string;
  /** Network form, e.g. 192.168.127.0/24. */
  subnet: string;
  /** The bridge's address with prefix, e.g. 192.168.127.1/24. */
  hostCidr: string;
  dryRun: boolean;
  uninstall: boolean;
  workDir: string;
  runtimeDir: string;
  logDir: string;
  /** Empty: no unit and no service step. */
  serviceFile: string;
  sysctlFile: string;
  /** Sources to copy into place; undefined = expect the file already there (install.sh). */
  sources: { vmlinux?: string; bzImage?: string; agentImage?: string; bootInitramfs?: string };
  /** The volantd the unit runs (absolute). */
  volantd?: string;
}

/** Where the guest artifacts live under the work dir (install.sh puts them there too). */
export function guestPaths(workDir: string) {
  return {
    vmlinux: `${workDir}/kernel/vmlinux`,
    bzImage: `${workDir}/kernel/bzImage`,
    agentImage: `${workDir}/agent/agent.img`,
    bootInitramfs: `${workDir}/agent/boot.cpio.gz`,
  };
}

function bad(flag: string, message: string): VolantError {
  return new VolantError("usage", `${flag}: ${message}`, {
    problems: [{ field: flag, message }],
  });
}

function ipv4(text: string, flag: string): number {
  const n = ipv4Number(text);
  if (n === null) throw bad(flag, `'${text}' is not an IPv4 address`);
  return n;
}

const dotted = formatIpv4;

/** Subnet and host address, checked: the host address is the subnet's first (volantd's gateway). */
export function networkPlan(subnet: string, hostIp?: string): { subnet: string; hostCidr: string } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(subnet);
  if (!m || Number(m[2]) < 8 || Number(m[2]) > 30) {
    throw bad("--subnet", `'${subnet}' is not an IPv4 network with a prefix from /8 to /30`);
  }
  const prefix = Number(m[2]);
  const mask = prefixMask(prefix);
  const net = (ipv4(m[1], "--subnet") & mask) >>> 0;
  const gateway = dotted(net + 1);
  if (hostIp !== undefined && hostIp !== "") {
    const host = ipv4(hostIp, "--host-ip");
    if (((host & mask) >>> 0) !== net) {
      throw bad("--host-ip", `${hostIp} is not in ${dotted(net)}/${prefix}`);
    }
    if (host !== net + 1) {
      throw bad(
        "--host-ip",
        `volantd uses the subnet's first address as the gateway: use ${gateway}, not ${hostIp}`,
      );
    }
  }
  return { subnet: `${dotted(net)}/${prefix}`, hostCidr: `${gateway}/${prefix}` };
}

function absolute(path: string, flag: string, cwd: string): string {
  if (path.includes("\n") || path.includes("\0")) throw bad(flag, "path has a control character");
  const abs = path.startsWith("/") ? path : `${cwd}/${path}`;
  // The unit file quotes nothing: keep paths plain so ExecStart= and ReadWritePaths= parse.
  if (/[\s"'\\;%$]/.test(abs)) throw bad(flag, `'${abs}' has a space, quote, '%', '$' or ';'`);
  return abs.replace(/\/+$/, "") || "/";
}

function ifName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/.test(name)) {
    throw bad("--bridge", `'${name}' is not an interface name (1-15 of A-Z a-z 0-9 _ . -)`);
  }
  return name;
}

/** Resolves flags > env (v1's names) > defaults. `values` are parsed flags. */
export function resolveSetupOptions(
  values: Record<string, unknown>,
  env: (name: string) => string | undefined,
  cwd: string,
): SetupOptions {
  const str = (flag: string, envName?: string): string | undefined => {
    const v = values[flag];
    if (typeof v === "string") return v;
    if (Array.isArray(v)) return v.at(-1) as string;
    return envName ? env(envName) || undefined : undefined;
  };
  const path = (flag: string, envName: string | undefined, def: string) =>
    absolute(str(flag, envName) ?? def, `--${flag}`, cwd);
  const optionalPath = (flag: string, envName?: string) => {
    const v = str(flag, envName);
    return v === undefined || v === "" ? undefined : absolute(v, `--${flag}`, cwd);
  };
  const net = networkPlan(
    str("subnet", "VOLANT_SUBNET") ?? SETUP_DEFAULTS.subnet,
    str("host-ip", "VOLANT_HOST_IP"),
  );
  const service = str("service-file");
  return {
    bridge: ifName(str("bridge", "VOLANT_BRIDGE") ?? SETUP_DEFAULTS.bridge),
    ...net,
    dryRun: values["dry-run"] === true,
    uninstall: values.uninstall === true,
    workDir: path("work-dir", "VOLANT_WORK_DIR", SETUP_DEFAULTS.workDir),
    runtimeDir: path("runtime-dir", "VOLANT_RUNTIME_DIR", SETUP_DEFAULTS.runtimeDir),
    logDir: path("log-dir", "VOLANT_LOG_DIR", SETUP_DEFAULTS.logDir),
    serviceFile: service === ""
      ? ""
      : absolute(service ?? SETUP_DEFAULTS.serviceFile, "--service-file", cwd),
    sysctlFile: SETUP_DEFAULTS.sysctlFile,
    sources: {
      vmlinux: optionalPath("vmlinux", "VOLANT_KERNEL_VMLINUX"),
      bzImage: optionalPath("bzimage", "VOLANT_KERNEL_BZIMAGE"),
      agentImage: optionalPath("agent-image"),
      bootInitramfs: optionalPath("boot-initramfs"),
    },
    volantd: optionalPath("volantd"),
  };
}
