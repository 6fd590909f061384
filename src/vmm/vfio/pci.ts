/**
 * PCI devices as sysfs shows them: vendor, device, class, driver and IOMMU
 * group (the group's members come from `kernel/iommu_groups/<n>/devices`).
 *
 * @module
 */
import type { PciDeviceInfo } from "../../service/ports.ts";
import { hexId, linkName, listDir, readText } from "./sysfs.ts";

export const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** `01:00.0` is not enough: sysfs names carry the domain, lower-case. */
export function normalizeAddress(a: string): string {
  return a.toLowerCase();
}

export async function readDevice(sysfs: string, address: string): Promise<PciDeviceInfo | null> {
  const dir = `${sysfs}/bus/pci/devices/${address}`;
  const vendor = await readText(`${dir}/vendor`);
  if (vendor === null) return null;
  const groupName = await linkName(`${dir}/iommu_group`);
  const group = groupName === null ? null : Number(groupName);
  return {
    address,
    vendor: hexId(vendor, 4),
    device: hexId(await readText(`${dir}/device`), 4),
    class: hexId(await readText(`${dir}/class`), 6),
    driver: await linkName(`${dir}/driver`),
    iommu_group: group !== null && Number.isInteger(group) ? group : null,
    group_devices: group === null
      ? [address]
      : await listDir(`${sysfs}/kernel/iommu_groups/${group}/devices`),
  };
}

export async function listDevices(sysfs: string): Promise<PciDeviceInfo[]> {
  const out: PciDeviceInfo[] = [];
  for (const address of await listDir(`${sysfs}/bus/pci/devices`)) {
    const d = await readDevice(sysfs, address);
    if (d) out.push(d);
  }
  return out;
}

/** `vvvv:dddd` or `vvvv:*`, case-insensitive. */
export function allowed(d: Pick<PciDeviceInfo, "vendor" | "device">, allowlist: readonly string[]) {
  return allowlist.some((entry) => {
    const [v, dev] = entry.toLowerCase().split(":");
    return v === d.vendor && (dev === "*" || dev === d.device);
  });
}
