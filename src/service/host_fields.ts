/**
 * Manifest fields that need something of the host: refused at create when
 * this host cannot honour them (naming the field and why), acted on at start
 * (cloud-init seed written, PCI devices bound to vfio-pci) and undone at stop
 * (devices given back to their drivers). Sees only ports.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { ArtifactRecord, VmConfig } from "../manifest/api.ts";
import { effectiveCloudInit, seedFiles, wantsSeed } from "./cloud_init.ts";
import type { ServiceContext } from "./context.ts";
import type { DiskSpec } from "./ports.ts";
import { bootsVolantWay } from "./volant_boot.ts";

/** The seed image's name inside the VM's runtime dir. */
export const SEED_FILE = "cidata.img";

function cannot(field: string, reason: string): VolantError {
  return new VolantError("unavailable", `${field}: this host cannot honour it: ${reason}`, {
    problems: [{ field, message: reason }],
  });
}

export function pciAddresses(config: VmConfig): string[] {
  return config.manifest.devices?.pci_passthrough ?? [];
}

/**
 * Throws naming the first field this host cannot honour (checked at create and at start).
 * `artifacts`: the plugin's (create) or the VM's pinned ones (start).
 */
export async function assertHostCanHonour(
  ctx: ServiceContext,
  config: VmConfig,
  artifacts: readonly ArtifactRecord[],
): Promise<void> {
  const pci = pciAddresses(config);
  if (pci.length > 0) {
    if (!ctx.pci) {
      throw cannot("devices.pci_passthrough", "PCI passthrough is not set up in volantd");
    }
    if (config.machine !== "q35") {
      throw new VolantError("invalid_input", "machine: PCI passthrough needs the q35 machine", {
        problems: [{ field: "machine", message: "must be q35 to pass PCI devices" }],
      });
    }
    await ctx.pci.check(pci, config.manifest.devices?.allowlist);
  }
  if (wantsSeed(effectiveCloudInit(config.manifest.cloud_init, config.cloud_init))) {
    // kestrel hands the seed to cloud-init (agent/cloud_init_seed.ts); a guest with its own init
    // would have to mount the FAT disk itself, and Volant's guest kernel has no FAT driver.
    if (config.manifest.initramfs !== undefined && bootsVolantWay(artifacts)) {
      throw new VolantError(
        "invalid_input",
        "cloud_init: this plugin boots its own init (Volant's boot contract), and the guest " +
          "kernel has no FAT driver to read the cidata seed; cloud-init works in kestrel guests",
        {
          problems: [{
            field: "cloud_init",
            message: "not supported for plugins that boot their own init",
          }],
        },
      );
    }
    if (!ctx.seeds) throw cannot("cloud_init", "cloud-init seeds are not set up in volantd");
    const ok = await ctx.seeds.available();
    if (!ok.ok) throw cannot("cloud_init", ok.reason);
  }
}

/** Writes the VM's cidata seed (if it has cloud-init) and returns the disk to attach. */
export async function prepareSeed(
  ctx: ServiceContext,
  config: VmConfig,
  vm: { id: number; name: string; created_at: string },
  runtimeDir: string,
): Promise<DiskSpec | undefined> {
  const ci = effectiveCloudInit(config.manifest.cloud_init, config.cloud_init);
  if (!ci || !wantsSeed(ci)) return undefined;
  if (!ctx.seeds) throw cannot("cloud_init", "cloud-init seeds are not set up in volantd");
  const path = `${runtimeDir}/${SEED_FILE}`;
  await ctx.seeds.write(path, seedFiles(ci, vm));
  return { id: "cidata", path, format: "raw", readonly: true };
}
