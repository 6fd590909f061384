/**
 * Fields that need the host, through VmService over real SQLite with the
 * fake hypervisor/network ports: refused at create naming the field, seed
 * written and attached at start, PCI devices bound at start and given back
 * at stop (VFIO on a sysfs tree built by the test: fake_sysfs.ts; no IOMMU here).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { encodeCpio } from "../builder/cpio.ts";
import { isVolantError } from "../errors.ts";
import { decodeManifestValue, parseCmdline, parseManifest } from "../manifest/mod.ts";
import { FakeSysfs } from "../vmm/vfio/fake_sysfs.ts";
import { SysfsPassthrough } from "../vmm/vfio/mod.ts";
import { VfatSeedWriter } from "../vmm/seed/vfat_seed.ts";
import { pluginRecord, serviceFixture } from "./testing/fixture.ts";
import { instanceId } from "./cloud_init.ts";

function withFields(dir: string, extra: Record<string, unknown>) {
  const base = pluginRecord(`${dir}/rootfs.img`, "dev");
  return { ...base, manifest: parseManifest({ ...base.manifest, ...extra }) };
}

const NIC = { address: "0000:02:00.0", vendor: "8086", device: "1533", driver: "igb", group: 14 };

async function mtype(image: string, file: string): Promise<string> {
  const o = await new Deno.Command("mtype", {
    args: ["-i", image, `::${file}`],
    stdout: "piped",
    env: { MTOOLS_SKIP_CHECK: "1" },
  }).output();
  return new TextDecoder().decode(o.stdout);
}

Deno.test("create refuses PCI passthrough this host cannot honour, naming the field", async () => {
  const noIommu = await FakeSysfs.create([NIC], { iommu: false });
  const f = await serviceFixture({
    deps: {
      pci: new SysfsPassthrough({
        sysfs: noIommu.root,
        devVfio: noIommu.devVfio,
        stateDir: `${noIommu.root}/../state`,
        write: noIommu.write,
      }),
    },
  });
  try {
    f.store.plugins.put(withFields(f.dir, {
      devices: { pci_passthrough: [NIC.address], allowlist: ["8086:1533"] },
    }));
    await assert.rejects(
      f.services.vms.create({ name: "gpu", plugin: "dev", machine: "q35" }),
      (e) =>
        isVolantError(e, "unavailable") && e.problems[0].field === "devices.pci_passthrough" &&
        /no IOMMU/.test(e.message),
    );
    await assert.rejects(
      f.services.vms.create({ name: "gpu", plugin: "dev", start: false }),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "machine",
    );
    assert.equal(f.store.vms.get("gpu"), undefined, "nothing half-written");
  } finally {
    await f.close();
    await noIommu.remove();
  }
});

Deno.test("PCI devices are bound at start (QEMU gets them in the spec) and given back at stop", async () => {
  const host = await FakeSysfs.create([NIC]);
  const pci = new SysfsPassthrough({
    sysfs: host.root,
    devVfio: host.devVfio,
    stateDir: `${host.root}/../state`,
    write: host.write,
  });
  const f = await serviceFixture({ deps: { pci } });
  try {
    f.store.plugins.put(withFields(f.dir, {
      devices: { pci_passthrough: [NIC.address], allowlist: ["10de:*"] },
    }));
    await assert.rejects(
      f.services.vms.create({ name: "nic", plugin: "dev", machine: "q35" }),
      (e) =>
        isVolantError(e, "invalid_input") && e.problems[0].field === "devices.pci_passthrough[0]",
    );
    f.store.plugins.put(withFields(f.dir, {
      devices: { pci_passthrough: [NIC.address], allowlist: ["8086:1533"] },
    }));
    await f.services.vms.create({ name: "nic", plugin: "dev", machine: "q35" });
    assert.deepEqual(f.hv.specs.at(-1)?.pciDevices, [NIC.address]);
    assert.equal(await host.driverOf(NIC.address), "vfio-pci");
    await f.services.vms.stop("nic");
    assert.equal(await host.driverOf(NIC.address), "igb");
  } finally {
    await f.close();
    await host.remove();
  }
});

Deno.test("cloud_init: refused without a seed writer; with one, a cidata seed is the last disk", async () => {
  const f = await serviceFixture();
  try {
    f.store.plugins.put(withFields(f.dir, {
      cloud_init: { user_data: { content: "#cloud-config\nruncmd: [true]\n" } },
    }));
    await assert.rejects(
      f.services.vms.create({ name: "ci", plugin: "dev" }),
      (e) => isVolantError(e, "unavailable") && e.problems[0].field === "cloud_init",
    );
    const s = await f.reopen({ seeds: new VfatSeedWriter() });
    const vm = await s.vms.create({
      name: "ci",
      plugin: "dev",
      cloud_init: { meta_data: { content: "region: here\n" } },
    });
    const spec = f.hv.specs.at(-1)!;
    const seed = spec.disks.at(-1)!;
    assert.deepEqual([seed.id, seed.readonly, seed.path], [
      "cidata",
      true,
      `${f.dir}/run/ci/cidata.img`,
    ]);
    assert.equal(await mtype(seed.path, "user-data"), "#cloud-config\nruncmd: [true]\n");
    const row = f.store.vms.get("ci")!;
    const iid = instanceId(row);
    assert.equal(
      await mtype(seed.path, "meta-data"),
      `instance-id: ${iid}\nlocal-hostname: ci\nregion: here\n`,
    );
    const onCmdline = await decodeManifestValue(parseCmdline(spec.cmdline).get("volant.manifest")!);
    assert.equal(
      (onCmdline as { cloud_init?: unknown }).cloud_init,
      undefined,
      "seed, not cmdline",
    );
    assert.ok(
      !parseCmdline(spec.cmdline).has("volant.run"),
      "no workload first: the workload waits for the seed hand-off",
    );
    await s.vms.restart(vm.name);
    assert.match(await mtype(seed.path, "meta-data"), new RegExp(`instance-id: ${iid}\n`));
  } finally {
    await f.close();
  }
});

Deno.test("cloud_init: refused for a plugin that boots its own init (it could not read the seed)", async () => {
  const f = await serviceFixture({ deps: { seeds: new VfatSeedWriter() } });
  try {
    // Volant's boot contract: the plugin's initramfs has its own /init and /bin/kestrel.
    const image = new Uint8Array(gzipSync(encodeCpio([
      { type: "dir", path: "/bin", mode: 0o755 },
      { type: "file", path: "/init", mode: 0o755, data: new TextEncoder().encode("#!/bin/sh\n") },
      {
        type: "file",
        path: "/bin/kestrel",
        mode: 0o755,
        data: new TextEncoder().encode("#!/bin/sh\n"),
      },
    ])));
    const sha = createHash("sha256").update(image).digest("hex");
    const path = `${f.dir}/own-init.cpio.gz`;
    await Deno.writeFile(path, image);
    const base = withFields(f.dir, {
      initramfs: { url: "https://example.test/own-init.cpio.gz", checksum: sha },
      cloud_init: { user_data: { content: "#cloud-config\nruncmd: [true]\n" } },
    });
    f.store.plugins.put({
      ...base,
      artifacts: [{
        kind: "initramfs",
        name: "initramfs",
        url: "https://example.test/own-init.cpio.gz",
        sha256: sha,
        verified: true,
        size: image.length,
        path,
      }],
    });
    await assert.rejects(
      f.services.vms.create({ name: "ci", plugin: "dev" }),
      (e) =>
        isVolantError(e, "invalid_input") && e.problems[0].field === "cloud_init" &&
        /boots its own init/.test(e.message),
    );
    assert.ok(!f.store.vms.get("ci"), "nothing was created");
  } finally {
    await f.close();
  }
});
