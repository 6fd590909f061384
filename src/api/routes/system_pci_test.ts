/**
 * GET /api/v1/system/pci over the unix transport in-process: without VFIO set
 * up, and over a sysfs tree built by the test (fake_sysfs.ts: no IOMMU here).
 */
import assert from "node:assert/strict";
import { createServices } from "../../service/mod.ts";
import { openStore } from "../../store/mod.ts";
import { FakeSysfs } from "../../vmm/vfio/fake_sysfs.ts";
import { SysfsPassthrough } from "../../vmm/vfio/mod.ts";
import { createApp } from "../mod.ts";
import { apiFixture } from "../testing/fixtures.ts";

Deno.test("system/pci: a daemon without VFIO says so", async () => {
  const f = await apiFixture();
  try {
    const res = await f.unix("/api/v1/system/pci");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      available: false,
      reason: "PCI passthrough is not set up in volantd",
      items: [],
    });
  } finally {
    await f.close();
  }
});

Deno.test("system/pci: candidates with their IOMMU groups; bridges left out", async () => {
  const fake = await FakeSysfs.create([
    { address: "0000:00:01.0", vendor: "8086", device: "1901", class: "060400", group: 1 },
    { address: "0000:01:00.0", vendor: "10de", device: "1eb8", driver: "nvidia", group: 13 },
  ]);
  const store = openStore({ stateDir: `${fake.root}/../state` });
  const services = createServices({
    store,
    options: { stateDir: `${fake.root}/../state`, runtimeDir: `${fake.root}/../run` },
    pci: new SysfsPassthrough({
      sysfs: fake.root,
      devVfio: fake.devVfio,
      stateDir: `${fake.root}/../vfio`,
      write: fake.write,
    }),
  });
  const app = createApp({ services, auth: { token: "tok" } });
  try {
    const res = await app.request("/api/v1/system/pci", {}, { transport: "unix" });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      available: true,
      items: [{
        address: "0000:01:00.0",
        vendor: "10de",
        device: "1eb8",
        class: "030000",
        driver: "nvidia",
        iommu_group: 13,
        group_devices: ["0000:01:00.0"],
      }],
    });
  } finally {
    await services.close();
    store.close();
    await fake.remove();
  }
});
