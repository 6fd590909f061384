/**
 * VFIO PCI passthrough: validation against sysfs, vfio-pci binding with the
 * original driver restored on stop, and the device list.
 *
 * ```ts
 * import { SysfsPassthrough } from "./mod.ts";
 * const pci = new SysfsPassthrough({ stateDir: "/var/lib/volant/vfio" });
 * await pci.check(["0000:01:00.0"], ["10de:*"]);
 * ```
 *
 * @module
 */
export { SysfsPassthrough, type SysfsPassthroughOptions } from "./passthrough.ts";
export { allowed, listDevices, PCI_ADDRESS, readDevice } from "./pci.ts";
export type { SysfsWrite } from "./sysfs.ts";
