/**
 * VFIO checks and bind/restore against a sysfs tree built by the test
 * (fake_sysfs.ts: this host has no IOMMU, so real groups cannot exist here).
 */
import assert from "node:assert/strict";
import { VolantError } from "../../errors.ts";
import { FakeSysfs } from "./fake_sysfs.ts";
import { SysfsPassthrough } from "./passthrough.ts";

const GPU = {
  address: "0000:01:00.0",
  vendor: "10de",
  device: "1eb8",
  driver: "nvidia",
  group: 13,
};
const AUDIO = {
  address: "0000:01:00.1",
  vendor: "10de",
  device: "10f8",
  class: "040300",
  driver: "snd_hda_intel",
  group: 13,
};
const NIC = { address: "0000:02:00.0", vendor: "8086", device: "1533", driver: "igb", group: 14 };

async function withHost(
  opts: { iommu?: boolean; vfioDriver?: boolean },
  body: (fake: FakeSysfs, pci: SysfsPassthrough) => Promise<void>,
) {
  const fake = await FakeSysfs.create([GPU, AUDIO, NIC], opts);
  const pci = new SysfsPassthrough({
    sysfs: fake.root,
    devVfio: fake.devVfio,
    stateDir: `${fake.root}/../state`,
    write: fake.write,
  });
  try {
    await body(fake, pci);
  } finally {
    await fake.remove();
  }
}

async function problems(
  p: Promise<void>,
): Promise<{ code: string; fields: string[]; text: string }> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof VolantError)) throw e;
    return {
      code: e.code,
      fields: e.problems.map((x) => x.field),
      text: e.problems.map((x) => x.message).join("\n"),
    };
  }
  throw new Error("expected a refusal");
}

Deno.test("vfio: a host without IOMMU cannot pass devices, and says why", async () => {
  await withHost({ iommu: false }, async (_fake, pci) => {
    const cap = await pci.capability();
    assert.equal(cap.ok, false);
    assert.match(!cap.ok ? cap.reason : "", /no IOMMU/);
    const r = await problems(pci.check([NIC.address], ["8086:1533"]));
    assert.equal(r.code, "unavailable");
    assert.deepEqual(r.fields, ["devices.pci_passthrough"]);
    assert.match(r.text, /intel_iommu=on/);
  });
});

Deno.test("vfio: without the vfio-pci driver the host cannot pass devices", async () => {
  await withHost({ vfioDriver: false }, async (_fake, pci) => {
    const cap = await pci.capability();
    assert.equal(cap.ok ? "" : cap.reason, "the vfio-pci driver is not loaded (modprobe vfio-pci)");
  });
});

Deno.test("vfio: refusals name the device: missing, outside the allowlist, no allowlist, group only partly passed", async () => {
  await withHost({}, async (_fake, pci) => {
    assert.deepEqual(await pci.capability(), { ok: true });
    let r = await problems(pci.check(["0000:09:00.0"], ["10de:*"]));
    assert.equal(r.code, "invalid_input");
    assert.deepEqual(r.fields, ["devices.pci_passthrough[0]"]);
    assert.match(r.text, /no PCI device 0000:09:00.0/);

    r = await problems(pci.check([NIC.address], ["10de:*"]));
    assert.deepEqual(r.fields, ["devices.pci_passthrough[0]"]);
    assert.match(r.text, /\(8086:1533\) is not in devices.allowlist/);

    r = await problems(pci.check([NIC.address], undefined));
    assert.match(r.text, /8086:1533 needs an entry in devices.allowlist/);

    r = await problems(pci.check([GPU.address], ["10de:*"]));
    assert.deepEqual(r.fields, ["devices.pci_passthrough[0]"]);
    assert.match(r.text, /IOMMU group 13 also holds 0000:01:00.1 \(driver snd_hda_intel\)/);
  });
});

Deno.test("vfio: a whole group passes; an exact vendor:device entry passes", async () => {
  await withHost({}, async (_fake, pci) => {
    await pci.check([GPU.address, AUDIO.address], ["10DE:*"]);
    await pci.check([NIC.address], ["8086:1533"]);
    const list = await pci.list();
    assert.deepEqual(list.map((d) => [d.address, d.iommu_group, d.driver]), [
      [GPU.address, 13, "nvidia"],
      [AUDIO.address, 13, "snd_hda_intel"],
      [NIC.address, 14, "igb"],
    ]);
    assert.deepEqual(list[0].group_devices, [GPU.address, AUDIO.address]);
    assert.equal(list[1].class, "040300");
  });
});

Deno.test("vfio: a group member already on vfio-pci need not be passed", async () => {
  await withHost({}, async (fake, pci) => {
    await pci.bind("other", [AUDIO.address]);
    assert.equal(await fake.driverOf(AUDIO.address), "vfio-pci");
    await pci.check([GPU.address], ["10de:1eb8"]);
  });
});

Deno.test("vfio: bind moves devices to vfio-pci through driver_override; restore gives them back", async () => {
  await withHost({}, async (fake, pci) => {
    const bound = await pci.bind("vm1", [GPU.address, AUDIO.address]);
    assert.deepEqual(bound, [
      { address: GPU.address, original_driver: "nvidia" },
      { address: AUDIO.address, original_driver: "snd_hda_intel" },
    ]);
    assert.equal(await fake.driverOf(GPU.address), "vfio-pci");
    assert.equal(await fake.driverOf(AUDIO.address), "vfio-pci");
    assert.deepEqual(fake.writes.slice(0, 3), [
      `bus/pci/devices/${GPU.address}/driver_override <- vfio-pci`,
      `bus/pci/drivers/nvidia/unbind <- ${GPU.address}`,
      `bus/pci/drivers/vfio-pci/bind <- ${GPU.address}`,
    ]);
    // A new daemon (same state dir) restores what the first one bound.
    const again = new SysfsPassthrough({
      sysfs: fake.root,
      devVfio: fake.devVfio,
      stateDir: `${fake.root}/../state`,
      write: fake.write,
    });
    fake.writes.length = 0;
    assert.equal((await again.restore("vm1")).length, 2);
    assert.equal(await fake.driverOf(GPU.address), "nvidia");
    assert.equal(await fake.driverOf(AUDIO.address), "snd_hda_intel");
    assert.deepEqual(fake.writes.slice(0, 3), [
      `bus/pci/drivers/vfio-pci/unbind <- ${GPU.address}`,
      `bus/pci/devices/${GPU.address}/driver_override <- `,
      `bus/pci/drivers/nvidia/bind <- ${GPU.address}`,
    ]);
    assert.deepEqual(await again.restore("vm1"), [], "restore is idempotent");
  });
});

Deno.test("vfio: a bind that fails half-way gives back what it took", async () => {
  await withHost({}, async (fake, pci) => {
    await assert.rejects(pci.bind("vm1", [NIC.address, "0000:09:00.0"]));
    assert.equal(await fake.driverOf(NIC.address), "igb");
  });
});

Deno.test("vfio: binding again after a crash keeps the first original driver", async () => {
  await withHost({}, async (fake, pci) => {
    await pci.bind("vm1", [NIC.address]);
    const again = await pci.bind("vm1", [NIC.address]);
    assert.deepEqual(again, [{ address: NIC.address, original_driver: "igb" }]);
    await pci.restore("vm1");
    assert.equal(await fake.driverOf(NIC.address), "igb");
  });
});
