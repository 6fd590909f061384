/**
 * The Hypervisor conformance suite against QEMU, for real (TCG here): microvm
 * and the q35 variant. Needs qemu-system-x86, busybox-static, cpio and the
 * guest kernel (`deno task kernel`); fails with the install command otherwise.
 */
import { ok } from "node:assert/strict";
import { runConformance, waitForSerial } from "../../src/vmm/conformance.ts";
import { tailSerialLog } from "../../src/vmm/serial.ts";
import { QemuDriver } from "../../src/vmm/qemu/driver.ts";
import { bootInChildProcess } from "../../src/vmm/testing/boot_detached.ts";
import { buildTestGuest, GUEST_LINES } from "../../src/vmm/testing/guest_fixture.ts";
import type { MachineKind } from "../../src/service/ports.ts";

for (const machine of ["microvm", "q35"] as MachineKind[]) {
  Deno.test({
    name: `QEMU ${machine} passes the Hypervisor conformance suite`,
    // The VMM's child-status op outlives single steps by design (detached VMs).
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const guest = await buildTestGuest();
      const root = await Deno.makeTempDir({ prefix: "volant-vmm-qemu-" });
      const options = { runtimeRoot: `${root}/run`, stateRoot: `${root}/state` };
      try {
        await runConformance(t, {
          label: `qemu/${machine}`,
          makeDriver: () => new QemuDriver(options),
          bootElsewhere: (spec) => bootInChildProcess({ driver: "qemu", options, spec }),
          runtimeRoot: options.runtimeRoot,
          stateRoot: options.stateRoot,
          guest,
          machine,
          supports: { pause: true, console: true, overlays: true },
          lineTimeoutMs: 60_000,
        });
      } finally {
        await Deno.remove(root, { recursive: true });
        await Deno.remove(guest.dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "QEMU: the serial log stays under serialLogMaxBytes while the guest prints",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const guest = await buildTestGuest();
    const root = await Deno.makeTempDir({ prefix: "volant-vmm-cap-" });
    const driver = new QemuDriver({
      runtimeRoot: `${root}/run`,
      stateRoot: `${root}/state`,
      serialCapIntervalMs: 50,
    });
    const cap = 4096;
    const spec = {
      name: "cap",
      runtimeDir: `${root}/run/cap`,
      stateDir: `${root}/state/cap`,
      kernel: guest.kernel,
      initramfs: guest.initramfs,
      disks: [],
      cpus: 1,
      memoryMb: 128,
      // The guest prints ~25 KB after its ready line. loglevel=1: a late kernel message (the
      // clocksource switch) must not land inside the guest's marker line on the shared console.
      cmdline: [guest.cmdline, ...await driver.extraKernelArgs(), "volant_test=spam", "loglevel=1"]
        .join(" "),
      machine: "microvm" as const,
      serialLogMaxBytes: cap,
    };
    const proc = await driver.boot(spec);
    try {
      await waitForSerial(proc, GUEST_LINES.spamDone, 60_000);
      // Let the 50 ms cap timer run a few times after the last line.
      await new Promise((r) => setTimeout(r, 300));
      const size = (await Deno.stat(proc.serialLog)).size;
      ok(size <= cap, `serial.log is ${size} bytes, cap ${cap}`);
      // The newest lines are kept (the kernel may still print after the guest's last line).
      const tail = await tailSerialLog(proc.serialLog, 20);
      ok(tail.includes(GUEST_LINES.spamDone), `the newest lines are kept: ${tail}`);
      ok(!(await Deno.readTextFile(proc.serialLog)).includes("spam line 0 "), "the oldest went");
    } finally {
      // A timer keeps this test alive while it waits for the unref'd VMM to exit.
      const keepAlive = setTimeout(() => {}, 30_000);
      await driver.kill(proc);
      clearTimeout(keepAlive);
      await driver.destroy(spec);
      await Deno.remove(root, { recursive: true });
      await Deno.remove(guest.dir, { recursive: true });
    }
  },
});
