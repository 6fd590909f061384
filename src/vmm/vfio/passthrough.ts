/**
 * VFIO passthrough over sysfs, made safe: a device is passed only if it
 * exists, its IOMMU group is known, every other device of the group is passed
 * too or already bound to vfio-pci, and the manifest's allowlist names its
 * vendor:device. Binding uses `driver_override` (so no other device with the
 * same ids is captured, unlike `new_id`), and the original driver is recorded
 * in `<stateDir>/<vm>.json` and restored on stop.
 *
 * @module
 */
import { VolantError } from "../../errors.ts";
import type { FieldProblem } from "../../errors.ts";
import type { PciBinding, PciDeviceInfo, PciPassthrough } from "../../service/ports.ts";
import { allowed, listDevices, normalizeAddress, PCI_ADDRESS, readDevice } from "./pci.ts";
import { exists, linkName, listDir, type SysfsWrite, writeAttribute } from "./sysfs.ts";

export interface SysfsPassthroughOptions {
  /** sysfs mount (default `/sys`). */
  sysfs?: string;
  /** Where the VFIO container device lives (default `/dev/vfio`). */
  devVfio?: string;
  /** Where each VM's original drivers are recorded (`<dir>/<vm>.json`). */
  stateDir: string;
  /** How attributes are written (default: the real write). */
  write?: SysfsWrite;
}

const FIELD = "devices.pci_passthrough";
const VFIO = "vfio-pci";

export class SysfsPassthrough implements PciPassthrough {
  readonly #sysfs: string;
  readonly #dev: string;
  readonly #state: string;
  readonly #write: SysfsWrite;

  constructor(o: SysfsPassthroughOptions) {
    this.#sysfs = o.sysfs ?? "/sys";
    this.#dev = o.devVfio ?? "/dev/vfio";
    this.#state = o.stateDir;
    this.#write = o.write ?? writeAttribute;
  }

  async capability(): Promise<{ ok: true } | { ok: false; reason: string }> {
    if ((await listDir(`${this.#sysfs}/kernel/iommu_groups`)).length === 0) {
      return {
        ok: false,
        reason: "this host has no IOMMU (no groups under /sys/kernel/iommu_groups; " +
          "enable VT-d/AMD-Vi in firmware and boot with intel_iommu=on or amd_iommu=on)",
      };
    }
    if (!await exists(`${this.#sysfs}/bus/pci/drivers/${VFIO}`)) {
      return { ok: false, reason: "the vfio-pci driver is not loaded (modprobe vfio-pci)" };
    }
    if (!await exists(`${this.#dev}/vfio`)) {
      return { ok: false, reason: `${this.#dev}/vfio is missing (modprobe vfio)` };
    }
    return { ok: true };
  }

  list(): Promise<PciDeviceInfo[]> {
    return listDevices(this.#sysfs);
  }

  async check(
    addresses: readonly string[],
    allowlist: readonly string[] | undefined,
  ): Promise<void> {
    if (addresses.length === 0) return;
    const cap = await this.capability();
    if (!cap.ok) {
      throw new VolantError("unavailable", `${FIELD}: cannot pass PCI devices: ${cap.reason}`, {
        problems: [{ field: FIELD, message: cap.reason }],
      });
    }
    const wanted = new Set(addresses.map(normalizeAddress));
    const problems: FieldProblem[] = [];
    for (const [i, raw] of addresses.entries()) {
      const field = `${FIELD}[${i}]`;
      const address = normalizeAddress(raw);
      if (!PCI_ADDRESS.test(address)) {
        problems.push({ field, message: "must be a PCI address DDDD:BB:DD.F" });
        continue;
      }
      const d = await readDevice(this.#sysfs, address);
      if (!d) {
        problems.push({ field, message: `no PCI device ${address} on this host` });
        continue;
      }
      const id = `${d.vendor}:${d.device}`;
      if (!allowlist?.length) {
        problems.push({ field, message: `${id} needs an entry in devices.allowlist` });
      } else if (!allowed(d, allowlist)) {
        problems.push({ field, message: `${address} (${id}) is not in devices.allowlist` });
      }
      if (d.iommu_group === null) {
        problems.push({ field, message: `${address} has no IOMMU group` });
        continue;
      }
      for (const other of d.group_devices) {
        if (wanted.has(other)) continue;
        const driver = await linkName(`${this.#sysfs}/bus/pci/devices/${other}/driver`);
        if (driver === VFIO) continue;
        problems.push({
          field,
          message: `IOMMU group ${d.iommu_group} also holds ${other} (driver ${
            driver ?? "none"
          }): pass it too or bind it to vfio-pci`,
        });
      }
    }
    if (problems.length > 0) {
      throw new VolantError("invalid_input", `${FIELD}: ${problems[0].message}`, { problems });
    }
  }

  async bind(vm: string, addresses: readonly string[]): Promise<PciBinding[]> {
    // A VM that crashed still holds its devices: keep what they were bound to first.
    const earlier = new Map((await this.#load(vm)).map((b) => [b.address, b.original_driver]));
    const done: PciBinding[] = [];
    try {
      for (const raw of addresses) {
        const address = normalizeAddress(raw);
        const dir = `${this.#sysfs}/bus/pci/devices/${address}`;
        const current = await linkName(`${dir}/driver`);
        const original = earlier.has(address) ? earlier.get(address)! : current;
        done.push({ address, original_driver: original });
        // Recorded before acting: a crash half-way still knows what to give back.
        await this.#save(vm, done);
        if (current === VFIO) continue;
        await this.#write(`${dir}/driver_override`, VFIO);
        if (current) {
          await this.#write(`${this.#sysfs}/bus/pci/drivers/${current}/unbind`, address);
        }
        await this.#write(`${this.#sysfs}/bus/pci/drivers/${VFIO}/bind`, address);
        const now = await linkName(`${dir}/driver`);
        if (now !== VFIO) {
          throw new VolantError(
            "internal",
            `${address}: still bound to ${now ?? "no driver"} after binding vfio-pci`,
          );
        }
      }
    } catch (error) {
      await this.restore(vm);
      throw error;
    }
    return done;
  }

  async restore(vm: string): Promise<PciBinding[]> {
    const bindings = await this.#load(vm);
    for (const b of bindings) {
      if (b.original_driver === VFIO) continue;
      const dir = `${this.#sysfs}/bus/pci/devices/${b.address}`;
      if (!await exists(dir)) continue; // hot-unplugged meanwhile: nothing to give back
      if (await linkName(`${dir}/driver`) === VFIO) {
        await this.#write(`${this.#sysfs}/bus/pci/drivers/${VFIO}/unbind`, b.address);
      }
      // A newline clears the override (Documentation/ABI/testing/sysfs-bus-pci).
      await this.#write(`${dir}/driver_override`, "\n");
      if (b.original_driver) {
        await this.#write(`${this.#sysfs}/bus/pci/drivers/${b.original_driver}/bind`, b.address);
      }
    }
    await Deno.remove(this.#file(vm)).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
    return bindings;
  }

  #file(vm: string): string {
    return `${this.#state}/${vm}.json`;
  }

  async #save(vm: string, bindings: PciBinding[]): Promise<void> {
    await Deno.mkdir(this.#state, { recursive: true, mode: 0o700 });
    const tmp = `${this.#file(vm)}.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(bindings));
    await Deno.rename(tmp, this.#file(vm));
  }

  async #load(vm: string): Promise<PciBinding[]> {
    try {
      return JSON.parse(await Deno.readTextFile(this.#file(vm)));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw error;
    }
  }
}
