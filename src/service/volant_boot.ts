/**
 * Booting a guest the way Volant (Go) booted it, for plugins whose initramfs
 * brings its own init and agent (src/initramfs/contract.ts): the kernel
 * configures eth0 from `ip=<ip>::<gw>:<mask>:<host>:eth0:off` (kernel IP
 * autoconfiguration; Volant's kestrel configures nothing itself), there is no
 * agent disk (so a rootfs is `vda`), and health is the workload's own
 * `base_url` + `health_check.endpoint`, asked directly at the VM's address
 * (Volant's kestrel has no /healthz contract with us).
 *
 * @module
 */
import type { PluginManifest } from "../manifest/mod.ts";
import type { ArtifactRecord } from "../manifest/api.ts";
import type { VmRow } from "./store_port.ts";
import { bootContractFor } from "./boot_contract.ts";
import { formatIpv4 } from "./ipam.ts";

/** True when the VM's pinned initramfs expects Volant's boot contract. */
export function bootsVolantWay(artifacts: readonly ArtifactRecord[]): boolean {
  return bootContractFor(artifacts).contract === "volant";
}

/** The kernel's `ip=` argument (nfsroot.txt form: client::gw:netmask:hostname:device:autoconf). */
export function kernelIpArg(ip: string, gateway: string, prefix: number, hostname: string): string {
  const mask = formatIpv4(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
  return `ip=${ip}::${gateway}:${mask}:${hostname}:eth0:off`;
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "0.0.0.0", "[::1]", "[::]"]);

/**
 * The URL the host probes for a Volant-contract VM: the workload's base_url
 * with a loopback or wildcard host replaced by the VM's address, joined with
 * the health endpoint (default `/`).
 */
export function workloadHealthUrl(manifest: PluginManifest, vmIp: string): string {
  const url = new URL(manifest.workload.base_url);
  if (LOCAL_HOSTS.has(url.hostname)) url.hostname = vmIp;
  const endpoint = manifest.health_check?.endpoint || "/";
  const base = url.pathname.replace(/\/+$/, "");
  url.pathname = base + (endpoint.startsWith("/") ? endpoint : `/${endpoint}`);
  return url.href;
}

/** The health URL of a Volant-contract VM, or undefined (ours: kestrel's /healthz). */
export function volantHealthUrl(
  row: Pick<VmRow, "ip" | "artifacts">,
  manifest: PluginManifest | undefined,
): string | undefined {
  if (!manifest?.initramfs || !bootsVolantWay(row.artifacts)) return undefined;
  return workloadHealthUrl(manifest, row.ip);
}
