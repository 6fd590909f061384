/**
 * The Hypervisor conformance suite against the Cloud Hypervisor driver, run
 * with the CONTRACT FAKE `cloud-hypervisor` process
 * (src/vmm/testing/fake_cloud_hypervisor.ts): real detached processes, real
 * unix sockets, the REST API and flags as upstream implements them, a
 * simulated guest. Cloud Hypervisor itself needs /dev/kvm, which this machine
 * lacks: tests/kvm/vmm_cloud_hypervisor_kvm.ts runs the same suite against the
 * real VMM in CI (.github/workflows/cloud-hypervisor.yml).
 */
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { connectConsole } from "../../src/vmm/serial.ts";
import { isVolantError } from "../../src/errors.ts";
import { CloudHypervisorDriver } from "../../src/vmm/cloud_hypervisor/driver.ts";
import { runConformance, waitForSerial } from "../../src/vmm/conformance.ts";
import { bootInChildProcess } from "../../src/vmm/testing/boot_detached.ts";
import { writeFakeChBinary } from "../../src/vmm/testing/fake_cloud_hypervisor.ts";
import {
  buildTestGuest,
  GUEST_LINES,
  makeRawImage,
  type TestGuest,
} from "../../src/vmm/testing/guest_fixture.ts";
import type { VmSpec } from "../../src/service/ports.ts";

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
        rebootsInPlace: true,
        lineTimeoutMs: 20_000,
      });
      assertEquals(await new CloudHypervisorDriver(options).extraKernelArgs(), []);
    } finally {
      await Deno.remove(root, { recursive: true });
      await Deno.remove(guest.dir, { recursive: true });
    }
  },
});

async function withDriver(
  prefix: string,
  fn: (driver: CloudHypervisorDriver, root: string, guest: TestGuest) => Promise<void>,
) {
  const guest = await buildTestGuest({ kernel: "/bin/busybox" });
  const root = await Deno.makeTempDir({ prefix });
  const keepAlive = setInterval(() => {}, 1000);
  try {
    const driver = new CloudHypervisorDriver({
      binary: await writeFakeChBinary(root),
      skipKvmCheck: true,
      runtimeRoot: `${root}/run`,
      stateRoot: `${root}/state`,
      eventPollMs: 50,
    });
    await fn(driver, root, guest);
  } finally {
    clearInterval(keepAlive);
    await Deno.remove(root, { recursive: true });
    await Deno.remove(guest.dir, { recursive: true });
  }
}

function specOf(root: string, guest: TestGuest, name: string, over: Partial<VmSpec> = {}): VmSpec {
  return {
    name,
    runtimeDir: `${root}/run/${name}`,
    stateDir: `${root}/state/${name}`,
    kernel: guest.kernel,
    initramfs: guest.initramfs,
    disks: [],
    cpus: 1,
    memoryMb: 128,
    cmdline: guest.cmdline,
    machine: "q35",
    serialLogMaxBytes: 1 << 20,
    ...over,
  };
}

/** Types `word` on the console until the guest echoes it (retries: a restored guest may be slow). */
async function echoes(proc: { serialSocket: string; serialLog: string }, word: string) {
  const conn = await connectConsole(proc.serialSocket);
  try {
    for (let i = 0; i < 20; i++) {
      await conn.write(new TextEncoder().encode(`${word}\n`));
      try {
        await waitForSerial(proc, `${GUEST_LINES.echo} ${word}`, 500);
        return;
      } catch (e) {
        if (i === 19) throw e;
      }
    }
  } finally {
    conn.close();
  }
}

Deno.test({
  name:
    "Cloud Hypervisor driver: snapshot into a fresh dir, restore into an empty VMM, resume (contract fake)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withDriver("volant-vmm-chsnap-", async (driver, root, guest) => {
      const base = `${guest.dir}/base.img`;
      await makeRawImage(base);
      const spec = specOf(root, guest, "snap", {
        disks: [{
          id: "rw",
          path: `${root}/state/snap/rw.qcow2`,
          format: "qcow2",
          readonly: false,
          backingImage: base,
        }],
        vsock: { cid: 3 },
      });
      const proc = await driver.boot(spec);
      const snapDir = `${root}/snapshots/snap-1`; // does not exist yet: the driver creates it
      try {
        await waitForSerial(proc, GUEST_LINES.ready, 10_000);
        await driver.snapshot(proc, snapDir);
        for (const f of ["config.json", "state.json", "memory-ranges"]) {
          ok((await Deno.stat(`${snapDir}/${f}`)).isFile, f);
        }
        assertEquals((await Deno.stat(snapDir)).mode! & 0o777, 0o700);
        assertEquals((await driver.info(proc)).state, "running", "resumed after the snapshot");
        // CH never overwrites a snapshot: a non-empty dir is refused before anything is paused.
        await rejects(driver.snapshot(proc, snapDir), (e) => isVolantError(e, "conflict"));
        assertEquals((await driver.info(proc)).state, "running");
        await rejects(
          driver.snapshot(proc, "relative/dir"),
          (e) => isVolantError(e, "invalid_input"),
        );
        // Restore needs the VM's VMM gone.
        await rejects(driver.restore(spec, snapDir), (e) => isVolantError(e, "conflict"));
      } finally {
        await driver.shutdown(proc, { graceMs: 5_000 });
      }

      // Restore: a VMM with only --api-socket (+ event monitor), vm.restore, resume.
      const restored = await driver.restore(spec, snapDir);
      try {
        assertEquals((await driver.info(restored)).state, "running");
        const argv = JSON.parse(await Deno.readTextFile(`${spec.runtimeDir}/vmm.json`)).argv;
        ok(!argv.includes("--kernel"), `restore VMM has no --kernel: ${argv.join(" ")}`);
        await echoes(restored, "after-restore"); // the serial pump and console work again
        // A fresh driver (daemon restart) adopts the restored VMM.
        const fresh = new CloudHypervisorDriver({
          binary: `${root}/cloud-hypervisor`,
          skipKvmCheck: true,
          runtimeRoot: `${root}/run`,
          stateRoot: `${root}/state`,
        });
        const adopted = await fresh.adopt(spec.name, spec.runtimeDir);
        assertEquals(adopted?.pid, restored.pid);
      } finally {
        await driver.shutdown(restored, { graceMs: 5_000 });
      }
      assertEquals((await driver.exited(restored)).requested, true);

      // resume: false leaves it paused.
      const paused = await driver.restore(spec, snapDir, { resume: false });
      try {
        assertEquals((await driver.info(paused)).state, "paused");
      } finally {
        await driver.kill(paused);
      }

      // A snapshot of another VM, or no snapshot at all, is refused naming the field.
      const other = specOf(root, guest, "other");
      await rejects(driver.restore(other, snapDir), (e) => {
        return isVolantError(e, "invalid_input") && e.problems[0].field === "snapshotDir";
      });
      await rejects(driver.restore(spec, `${root}/nothing`), (e) => isVolantError(e, "not_found"));
      await driver.destroy(spec);
    });
  },
});

Deno.test({
  name:
    "Cloud Hypervisor driver: a guest reboot with a qcow2 overlay ends the VMM as a crash (guest: reboot)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withDriver("volant-vmm-chreboot-", async (driver, root, guest) => {
      const base = `${guest.dir}/base.img`;
      await makeRawImage(base);
      const spec = specOf(root, guest, "loop", {
        cmdline: `${guest.cmdline} volant_test=panic`,
        disks: [{
          id: "rw",
          path: `${root}/state/loop/rw.qcow2`,
          format: "qcow2",
          readonly: false,
          backingImage: base,
        }],
      });
      const proc = await driver.boot(spec);
      const exit = await driver.exited(proc);
      // Ended by the driver through vmm.shutdown (exit 0), marked as a guest reboot: not clean.
      assertEquals(exit, { code: 0, signal: null, requested: false, guest: "reboot" });
      assertEquals(await Deno.readTextFile(`${spec.runtimeDir}/guest-reset`), "reboot\n");
      // The reboot reopened the overlay from the persisted config (image_type kept backing_files).
      const log = await Deno.readTextFile(`${spec.runtimeDir}/vmm.log`);
      ok(!/BackingFilesDisabled/.test(log), log);
      // The next boot starts clean: the marker does not leak into it.
      const again = await driver.boot({ ...spec, cmdline: guest.cmdline });
      try {
        await rejects(Deno.stat(`${spec.runtimeDir}/guest-reset`), Deno.errors.NotFound);
      } finally {
        await driver.shutdown(again, { graceMs: 5_000 });
      }
      assertEquals(await driver.exited(again), { code: 0, signal: null, requested: true });
      await driver.destroy(spec);
    });
  },
});
