/**
 * The Hypervisor conformance suite against the Cloud Hypervisor driver, run
 * with the CONTRACT FAKE `cloud-hypervisor` process
 * (src/vmm/testing/fake_cloud_hypervisor.ts): real detached processes, real
 * unix sockets, the documented REST API and flags, a simulated guest. Cloud
 * Hypervisor itself cannot run here (no /dev/kvm, not packaged).
 */
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { isVolantError } from "../../src/errors.ts";
import { CloudHypervisorDriver } from "../../src/vmm/cloud_hypervisor/driver.ts";
import { runConformance } from "../../src/vmm/conformance.ts";
import { bootInChildProcess } from "../../src/vmm/testing/boot_detached.ts";
import { writeFakeChBinary } from "../../src/vmm/testing/fake_cloud_hypervisor.ts";
import { buildTestGuest } from "../../src/vmm/testing/guest_fixture.ts";

Deno.test("Cloud Hypervisor driver: available() says why it cannot run here", async () => {
  const res = await new CloudHypervisorDriver({ binary: "/nonexistent/cloud-hypervisor" })
    .available();
  ok(!res.ok);
  if (!res.ok) {
    ok(res.reason.includes("/nonexistent/cloud-hypervisor not found"), res.reason);
    const kvm = await Deno.stat("/dev/kvm").then(() => true, () => false);
    if (!kvm) ok(res.reason.includes("/dev/kvm"), res.reason);
  }
});

Deno.test({
  name: "Cloud Hypervisor driver passes the conformance suite against the contract-fake VMM",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    // The fake VMM only checks the kernel is an ELF: any static ELF will do.
    const guest = await buildTestGuest({ kernel: "/bin/busybox" });
    const root = await Deno.makeTempDir({ prefix: "volant-vmm-ch-" });
    try {
      const binary = await writeFakeChBinary(root);
      const options = {
        binary,
        skipKvmCheck: true,
        runtimeRoot: `${root}/run`,
        stateRoot: `${root}/state`,
      };
      await runConformance(t, {
        label: "cloud-hypervisor (contract fake)",
        makeDriver: () => new CloudHypervisorDriver(options),
        bootElsewhere: (spec) => bootInChildProcess({ driver: "cloud-hypervisor", options, spec }),
        runtimeRoot: options.runtimeRoot,
        stateRoot: options.stateRoot,
        guest,
        machine: "q35",
        // The console goes through the driver's fan-out (console.sock) in front of CH's socket.
        supports: { pause: true, console: true, overlays: true },
        lineTimeoutMs: 20_000,
      });
      assertEquals(await new CloudHypervisorDriver(options).extraKernelArgs(), []);
    } finally {
      await Deno.remove(root, { recursive: true });
      await Deno.remove(guest.dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Cloud Hypervisor driver: snapshot pauses, snapshots and resumes (contract fake)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const guest = await buildTestGuest({ kernel: "/bin/busybox" });
    const root = await Deno.makeTempDir({ prefix: "volant-vmm-chsnap-" });
    const keepAlive = setInterval(() => {}, 1000);
    try {
      const driver = new CloudHypervisorDriver({
        binary: await writeFakeChBinary(root),
        skipKvmCheck: true,
        runtimeRoot: `${root}/run`,
        stateRoot: `${root}/state`,
      });
      const spec = {
        name: "snap",
        runtimeDir: `${root}/run/snap`,
        stateDir: `${root}/state/snap`,
        kernel: guest.kernel,
        initramfs: guest.initramfs,
        disks: [],
        cpus: 1,
        memoryMb: 128,
        cmdline: guest.cmdline,
        machine: "q35" as const,
        serialLogMaxBytes: 1 << 20,
      };
      const proc = await driver.boot(spec);
      try {
        await driver.snapshot(proc, `file://${root}/snapshot`);
        assertEquals((await driver.info(proc)).state, "running");
        await rejects(driver.resume(proc), (e) => isVolantError(e, "upstream"));
      } finally {
        await driver.kill(proc);
      }
      await driver.destroy(spec);
    } finally {
      clearInterval(keepAlive);
      await Deno.remove(root, { recursive: true });
      await Deno.remove(guest.dir, { recursive: true });
    }
  },
});
