/** The VFIO row on this host (no IOMMU: a warn naming why) and on a sysfs tree built by the test. */
import assert from "node:assert/strict";
import { FakeSysfs } from "../vmm/vfio/fake_sysfs.ts";
import { seedToolsCheck, vfioResult } from "./checks_fields.ts";

Deno.test("doctor vfio: a host without IOMMU groups warns and says why", async () => {
  const fake = await FakeSysfs.create([
    { address: "0000:01:00.0", vendor: "10de", device: "1eb8", driver: "nvidia", group: 1 },
  ], { iommu: false });
  try {
    const r = await vfioResult(fake.root, fake.devVfio);
    assert.equal(r.status, "warn");
    assert.match(r.detail, /no IOMMU/);
  } finally {
    await fake.remove();
  }
});

Deno.test("doctor vfio: a host with groups and vfio-pci counts candidates", async () => {
  const fake = await FakeSysfs.create([
    { address: "0000:00:01.0", vendor: "8086", device: "1901", class: "060400", group: 1 },
    { address: "0000:01:00.0", vendor: "10de", device: "1eb8", driver: "nvidia", group: 13 },
    { address: "0000:01:00.1", vendor: "10de", device: "10f8", driver: "snd", group: 13 },
  ]);
  try {
    const r = await vfioResult(fake.root, fake.devVfio);
    assert.equal(r.status, "ok");
    assert.match(r.detail, /2 candidates in 1 IOMMU groups/);
  } finally {
    await fake.remove();
  }
});

Deno.test("doctor seeds: the tools this host has (dosfstools + mtools are in scripts/apt-packages.txt)", async () => {
  const r = await seedToolsCheck.run({} as never);
  assert.equal(r.status, "ok", r.detail);
});
