/**
 * FAKE: a sysfs tree built on disk, for tests only. This host has no IOMMU
 * (a Firecracker guest without VT-d), so real VFIO groups cannot exist here;
 * this fake stands in for that boundary. It lays out what the kernel shows
 * (`bus/pci/devices/<addr>/{vendor,device,class,driver,iommu_group,
 * driver_override}`, `bus/pci/drivers/<drv>/`, `kernel/iommu_groups/<n>/devices/`)
 * and {@linkcode FakeSysfs.write} plays the kernel's part for the attribute
 * writes the VFIO code makes (`driver_override`, `drivers/<drv>/bind|unbind`),
 * logging each one.
 *
 * @module
 */
import { join } from "node:path";

export interface FakeDevice {
  address: string;
  vendor: string;
  device: string;
  class?: string;
  driver?: string;
  /** IOMMU group; omitted = the device has none. */
  group?: number;
}

export class FakeSysfs {
  readonly root: string;
  readonly devVfio: string;
  /** Every write, as `path-relative-to-root <- value`. */
  readonly writes: string[] = [];

  private constructor(root: string, devVfio: string) {
    this.root = root;
    this.devVfio = devVfio;
  }

  /** Builds the tree under a new temp dir; `iommu: false` = a host without IOMMU groups. */
  static async create(
    devices: FakeDevice[],
    opts: { iommu?: boolean; vfioDriver?: boolean } = {},
  ): Promise<FakeSysfs> {
    const base = await Deno.makeTempDir({ prefix: "fake-sysfs-" });
    const fake = new FakeSysfs(join(base, "sys"), join(base, "dev-vfio"));
    const drivers = new Set(devices.flatMap((d) => d.driver ? [d.driver] : []));
    if (opts.vfioDriver !== false) drivers.add("vfio-pci");
    for (const drv of drivers) await Deno.mkdir(fake.#driverDir(drv), { recursive: true });
    await Deno.mkdir(join(fake.root, "kernel", "iommu_groups"), { recursive: true });
    await Deno.mkdir(fake.devVfio, { recursive: true });
    await Deno.writeTextFile(join(fake.devVfio, "vfio"), "");
    for (const d of devices) {
      const dir = fake.#deviceDir(d.address);
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(join(dir, "vendor"), `0x${d.vendor}\n`);
      await Deno.writeTextFile(join(dir, "device"), `0x${d.device}\n`);
      await Deno.writeTextFile(join(dir, "class"), `0x${d.class ?? "030000"}\n`);
      await Deno.writeTextFile(join(dir, "driver_override"), "(null)\n");
      if (d.driver) await fake.#link(d.address, d.driver);
      if (d.group !== undefined && opts.iommu !== false) {
        const g = join(fake.root, "kernel", "iommu_groups", String(d.group), "devices");
        await Deno.mkdir(g, { recursive: true });
        await Deno.symlink(`../../../../bus/pci/devices/${d.address}`, join(g, d.address));
        await Deno.symlink(
          `../../../../kernel/iommu_groups/${d.group}`,
          join(dir, "iommu_group"),
        );
      }
    }
    return fake;
  }

  #deviceDir(a: string) {
    return join(this.root, "bus", "pci", "devices", a);
  }
  #driverDir(d: string) {
    return join(this.root, "bus", "pci", "drivers", d);
  }
  async #link(address: string, driver: string) {
    await Deno.symlink(`../../drivers/${driver}`, join(this.#deviceDir(address), "driver"));
  }

  async driverOf(address: string): Promise<string | null> {
    try {
      return (await Deno.readLink(join(this.#deviceDir(address), "driver"))).split("/").pop()!;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
  }

  /** The kernel's side of an attribute write (what the VFIO code calls instead of a real write). */
  write = async (path: string, value: string): Promise<void> => {
    const rel = path.slice(this.root.length + 1);
    this.writes.push(`${rel} <- ${value.trim()}`);
    const m = /^bus\/pci\/(devices\/([^/]+)\/driver_override|drivers\/([^/]+)\/(bind|unbind))$/
      .exec(rel);
    if (!m) throw new Deno.errors.PermissionDenied(`fake sysfs: ${rel} is not writable`);
    if (m[2]) {
      await Deno.writeTextFile(path, value.trim() === "" ? "(null)\n" : `${value.trim()}\n`);
      return;
    }
    const [driver, op, address] = [m[3], m[4], value.trim()];
    const current = await this.driverOf(address);
    if (op === "unbind") {
      if (current !== driver) throw new Error(`fake sysfs: ENODEV: ${address} is not on ${driver}`);
      await Deno.remove(join(this.#deviceDir(address), "driver"));
      return;
    }
    const override = (await Deno.readTextFile(join(this.#deviceDir(address), "driver_override")))
      .trim();
    if (current !== null) throw new Error(`fake sysfs: EBUSY: ${address} is bound to ${current}`);
    if (override !== "(null)" && override !== driver) {
      throw new Error(`fake sysfs: EINVAL: ${address} is overridden to ${override}`);
    }
    await this.#link(address, driver);
  };

  async remove(): Promise<void> {
    await Deno.remove(join(this.root, ".."), { recursive: true });
  }
}
