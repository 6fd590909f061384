/**
 * virtio-net on the VM's TAP with its MAC, for real, inside a network
 * namespace this test creates and deletes: the VM is booted by a child
 * process running in the namespace (QEMU opens the TAP there), adopted from
 * here, and the guest pings the TAP's host address. Needs iproute2 and root.
 */
import { ok } from "node:assert/strict";
import type { MachineKind, VmSpec } from "../../src/service/ports.ts";
import { waitForSerial } from "../../src/vmm/conformance.ts";
import { QemuDriver } from "../../src/vmm/qemu/driver.ts";
import { buildTestGuest, GUEST_LINES } from "../../src/vmm/testing/guest_fixture.ts";

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output()
    .catch((e) => {
      throw new Error(`ip not runnable (${e}): apt-get install iproute2`);
    });
  if (!out.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

for (const machine of ["microvm", "q35"] as MachineKind[]) {
  Deno.test({
    name: `QEMU ${machine}: virtio-net on a TAP in a test netns carries the VM's MAC and traffic`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const ns = `volant-vmmnet-${crypto.randomUUID().slice(0, 8)}`;
      const tap = "vtap990";
      const mac = "02:5a:11:22:33:44";
      const guest = await buildTestGuest();
      const root = await Deno.makeTempDir({ prefix: "volant-vmm-net-" });
      const options = { runtimeRoot: `${root}/run`, stateRoot: `${root}/state` };
      const driver = new QemuDriver(options);
      const spec: VmSpec = {
        name: "net1",
        runtimeDir: `${options.runtimeRoot}/net1`,
        stateDir: `${options.stateRoot}/net1`,
        kernel: guest.kernel,
        initramfs: guest.initramfs,
        disks: [],
        cpus: 1,
        memoryMb: 128,
        cmdline: [guest.cmdline, ...await driver.extraKernelArgs(), "volant_test=net"].join(" "),
        machine,
        net: { tap, mac },
        serialLogMaxBytes: 1 << 20,
      };
      await ip("netns", "add", ns);
      const keepAlive = setInterval(() => {}, 1000);
      try {
        await ip("-n", ns, "link", "set", "lo", "up");
        await ip("-n", ns, "tuntap", "add", "dev", tap, "mode", "tap");
        await ip("-n", ns, "addr", "add", "10.99.0.1/24", "dev", tap);
        await ip("-n", ns, "link", "set", tap, "up");
        // Boot from inside the namespace (QEMU opens the TAP by name there), then adopt here.
        const helper = new URL("../../src/vmm/testing/boot_detached.ts", import.meta.url).pathname;
        const out = await new Deno.Command("ip", {
          args: [
            "netns",
            "exec",
            ns,
            Deno.execPath(),
            "run",
            "-A",
            "--no-prompt",
            helper,
            JSON.stringify({ driver: "qemu", options, spec }),
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        ok(out.success, `boot in netns failed: ${new TextDecoder().decode(out.stderr)}`);
        const proc = await driver.adopt(spec.name, spec.runtimeDir);
        ok(proc, "adopted the VM booted in the namespace");
        try {
          const log = await waitForSerial(proc, GUEST_LINES.net, 60_000);
          ok(log.includes(`${GUEST_LINES.net} mac=${mac}`), "guest eth0 has the spec's MAC");
          await waitForSerial(proc, GUEST_LINES.pingOk, 30_000);
        } finally {
          await driver.kill(proc);
        }
        await driver.destroy(spec);
      } finally {
        clearInterval(keepAlive);
        await ip("netns", "delete", ns);
        await Deno.remove(root, { recursive: true });
        await Deno.remove(guest.dir, { recursive: true });
      }
    },
  });
}
