/**
 * The VMM arguments that hand host PCI devices (already on vfio-pci) to a
 * guest: QEMU `-device vfio-pci,host=<addr>` (a PCI machine: q35, never
 * microvm, which has no PCI bus to plug it into) and Cloud Hypervisor
 * `--device path=/sys/bus/pci/devices/<addr>/`.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import { PCI_ADDRESS } from "./pci.ts";

function checked(addresses: readonly string[]): string[] {
  return addresses.map((a, i) => {
    const address = a.toLowerCase();
    if (!PCI_ADDRESS.test(address)) {
      throw new VolantError(
        "invalid_input",
        `devices.pci_passthrough[${i}]: ${a} is not DDDD:BB:DD.F`,
        {
          problems: [{ field: `devices.pci_passthrough[${i}]`, message: "must be DDDD:BB:DD.F" }],
        },
      );
    }
    return address;
  });
}

/** `-device vfio-pci,host=...` per device; refuses a machine without PCI. */
export function qemuVfioArgs(addresses: readonly string[], machine: "microvm" | "q35"): string[] {
  if (addresses.length === 0) return [];
  if (machine !== "q35") {
    throw new VolantError("invalid_input", "machine: PCI passthrough needs the q35 machine", {
      problems: [{
        field: "machine",
        message: "must be q35 to pass PCI devices (microvm has no PCI bus)",
      }],
    });
  }
  return checked(addresses).flatMap((a) => ["-device", `vfio-pci,host=${a}`]);
}

/**
 * `--device path=... [path=...]`: one flag, one value per device (CH's `--device` takes
 * several values, like `--disk`; repeating the flag needs v52+).
 */
export function chVfioArgs(addresses: readonly string[], sysfs = "/sys"): string[] {
  if (addresses.length === 0) return [];
  return ["--device", ...checked(addresses).map((a) => `path=${sysfs}/bus/pci/devices/${a}/`)];
}
