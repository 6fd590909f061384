/**
 * The Hypervisor conformance suite against QEMU, for real (TCG here): microvm
 * and the q35 variant. Needs qemu-system-x86, busybox-static, cpio and the
 * guest kernel (`deno task kernel`); fails with the install command otherwise.
 */
import { runConformance } from "../../src/vmm/conformance.ts";
import { QemuDriver } from "../../src/vmm/qemu/driver.ts";
import { bootInChildProcess } from "../../src/vmm/testing/boot_detached.ts";
import { buildTestGuest } from "../../src/vmm/testing/guest_fixture.ts";
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
