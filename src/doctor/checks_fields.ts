/**
 * Doctor rows for the manifest fields that need the host: whether VMs may be
 * given PCI devices (VFIO: IOMMU groups, the vfio-pci driver, /dev/vfio/vfio;
 * the same test volantd makes before a create) and whether cloud-init seeds
 * can be written (dosfstools + mtools). Neither is critical: VMs without
 * those fields boot either way.
 *
 * @module
 */
import { VfatSeedWriter } from "../vmm/seed/vfat_seed.ts";
import { SysfsPassthrough } from "../vmm/vfio/mod.ts";
import type { Check, CheckResult } from "./check.ts";

/** The VFIO row over a sysfs root (a test passes a tree of its own). */
export async function vfioResult(sysfs = "/sys", devVfio = "/dev/vfio"): Promise<CheckResult> {
  const pci = new SysfsPassthrough({ sysfs, devVfio, stateDir: "/nonexistent" });
  const cap = await pci.capability();
  if (!cap.ok) {
    return {
      status: "warn",
      detail: `cannot pass PCI devices: ${cap.reason}`,
      fix: "VMs asking for devices.pci_passthrough are refused at create; others are unaffected",
    };
  }
  const devices = (await pci.list()).filter((d) => !d.class.startsWith("06"));
  const groups = new Set(devices.map((d) => d.iommu_group).filter((g) => g !== null));
  return {
    status: "ok",
    detail: `can pass PCI devices: ${devices.length} candidates in ${groups.size} IOMMU groups ` +
      "(GET /api/v1/system/pci)",
  };
}

export const vfioCheck: Check = {
  id: "vfio",
  title: "PCI passthrough (VFIO)",
  critical: false,
  run: () => vfioResult(),
};

export const seedToolsCheck: Check = {
  id: "cloud_init_seed",
  title: "cloud-init seeds",
  critical: false,
  async run() {
    const ok = await new VfatSeedWriter().available();
    return ok.ok ? { status: "ok", detail: "mkfs.vfat and mcopy found (NoCloud cidata seeds)" } : {
      status: "warn",
      detail: ok.reason,
      fix: "apt-get install -y dosfstools mtools (VMs with cloud_init are refused until then)",
    };
  },
};
