/**
 * The snapshot service over the Cloud Hypervisor driver, against the
 * CONTRACT FAKE of Cloud Hypervisor (src/vmm/testing/fake_cloud_hypervisor.ts,
 * which mirrors upstream's vm.snapshot / vm.restore / vmm.ping; the real CH
 * needs /dev/kvm): `POST /vms/{vm}/snapshots` goes through vm.pause +
 * vm.snapshot {destination_url: file://...}, restore through a VMM started
 * with only --api-socket + vm.restore {source_url} + vm.resume; the snapshot
 * records the version vmm.ping reports, and a snapshot of another CH version
 * is refused before any VMM starts; the agent key the guest's memory holds
 * comes back with a restore even after a cold boot in between. Real SQLite, real processes and sockets.
 */
import assert from "node:assert/strict";
import { VolantError } from "../../src/errors.ts";
import { CloudHypervisorDriver } from "../../src/vmm/cloud_hypervisor/driver.ts";
import { writeFakeChBinary } from "../../src/vmm/testing/fake_cloud_hypervisor.ts";
import { buildTestGuest, makeRawImage } from "../../src/vmm/testing/guest_fixture.ts";
import { pluginRecord, serviceFixture } from "../../src/service/testing/fixture.ts";

Deno.test({
  name: "snapshot service on Cloud Hypervisor (contract fake): snapshot, restore, version refused",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const guest = await buildTestGuest({ kernel: "/bin/busybox" });
    const root = await Deno.makeTempDir({ prefix: "volant-chsnap-svc-" });
    try {
      const driver = new CloudHypervisorDriver({
        binary: await writeFakeChBinary(root),
        skipKvmCheck: true,
        runtimeRoot: `${root}/run`,
        stateRoot: `${root}/state/vms`,
        eventPollMs: 50,
      });
      assert.equal(await driver.version(), "v53.0-contract-fake", "vmm.ping's build_version");
      await makeRawImage(`${root}/rootfs.img`);
      const f = await serviceFixture({
        plugin: false,
        options: {
          stateDir: `${root}/state`,
          runtimeDir: `${root}/run`,
          kernel: guest.kernel,
        },
        deps: { hypervisor: driver },
      });
      try {
        f.store.plugins.put(pluginRecord(`${root}/rootfs.img`));
        const snaps = f.services.snapshots!;
        const vm = await f.services.vms.create({ name: "c1", plugin: "web" });
        assert.equal(vm.state, "running");

        const s1 = await snaps.create("c1", { name: "s1" });
        assert.equal(s1.after, "running");
        assert.equal(s1.identity.vmm, "cloud-hypervisor: v53.0-contract-fake");
        const files = s1.files.map((x) => x.path).sort();
        for (const want of ["vmm/config.json", "vmm/state.json"]) {
          assert.ok(files.includes(want), `${want} in ${files.join(", ")}`);
        }
        assert.equal(f.services.vms.get("c1").state, "running", "resumed after the snapshot");

        // A cold start between snapshot and restore makes a new agent key; the restored guest
        // holds the snapshot's, so the restore puts that one back for the daemon.
        const keyFile = `${root}/run/c1/agent.key`;
        const keyAtSnapshot = await Deno.readTextFile(keyFile);
        await f.services.vms.stop("c1");
        await f.services.vms.start("c1");
        assert.notEqual(await Deno.readTextFile(keyFile), keyAtSnapshot, "a cold boot's own key");
        await f.services.vms.stop("c1");
        const restored = await snaps.restore("c1", { from: "s1" });
        assert.equal(await Deno.readTextFile(keyFile), keyAtSnapshot, "the snapshot's key back");
        assert.equal(restored.state, "running");
        assert.notEqual(restored.pid, vm.pid, "a new VMM");
        const info = await driver.api({ runtimeDir: `${root}/run/c1` }).vmInfo();
        assert.equal(info.state, "Running", "vm.restore then vm.resume");

        // Another CH build took the snapshot: refused, naming the VMM, nothing started.
        await f.services.vms.stop("c1");
        const meta = `${root}/state/snapshots/c1/s1/meta.json`;
        const rec = JSON.parse(await Deno.readTextFile(meta));
        rec.identity.vmm = "cloud-hypervisor: v52.0";
        await Deno.writeTextFile(meta, JSON.stringify(rec));
        await assert.rejects(
          snaps.restore("c1", { from: "s1" }),
          (e: unknown) =>
            e instanceof VolantError && e.code === "conflict" &&
            /VMM was cloud-hypervisor: v52\.0, is cloud-hypervisor: v53\.0-contract-fake/.test(
              e.message,
            ),
        );
        assert.equal(f.services.vms.get("c1").state, "stopped");
        await f.services.vms.delete("c1");
      } finally {
        await f.close();
      }
    } finally {
      await Deno.remove(root, { recursive: true }).catch(() => {});
      await Deno.remove(guest.dir, { recursive: true });
    }
  },
});
