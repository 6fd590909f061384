/**
 * The whole probe, for real: stand-in device paths that do not exist, cannot
 * be opened read-write, or open but are not KVM (/dev/null, a regular file)
 * end it at the device step in milliseconds; the host's real /dev/kvm with
 * the real kernel and QEMU gets its answer within the 3 s bound, and `auto`
 * turns a "no" into tcg with the reason. The hanging and aborting QEMU cases
 * are in boot_try_test.ts. Under 5 s.
 */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { checkKvmDevice } from "./kvm_device.ts";
import { probeKvm } from "./probe.ts";
import { decideAccel } from "./resolver.ts";

const KERNEL = Deno.env.get("VOLANT_KERNEL") ??
  `${Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant"}/kernel/current/vmlinux`;

Deno.test("probe: stand-in devices that are missing, unopenable or not KVM end it at once", async () => {
  const file = await Deno.makeTempFile({ prefix: "volant-kvm-standin-" });
  const dir = await Deno.makeTempDir({ prefix: "volant-kvm-standin-" });
  try {
    for (
      const [path, why] of [
        ["/nonexistent/kvm", "ENOENT"],
        [dir, "EISDIR"],
        ["/dev/null", "ENOTTY"],
        [file, "ENOTTY"],
      ]
    ) {
      const t0 = performance.now();
      const r = await probeKvm({ kernel: KERNEL, kvmDevice: path });
      ok(performance.now() - t0 < 500, `${path} took too long`);
      assertEquals([r.usable, r.definitive, r.step, r.probedAt], [false, true, "device", null]);
      ok(r.reason.includes(why) && r.reason.includes(path), r.reason);
      const d = await decideAccel({ mode: "auto", kernel: KERNEL, kvmDevice: path });
      assertEquals(d.accel, "tcg");
      assertEquals(d.reason, `kvm unusable: ${r.reason}; using tcg`);
    }
  } finally {
    await Deno.remove(file);
    await Deno.remove(dir);
  }
});

Deno.test("probe: the host's real /dev/kvm, kernel and QEMU answer within the 3 s bound", async () => {
  const found = await Deno.stat(KERNEL).then(() => true, () => false);
  if (!found) throw new Error(`guest kernel ${KERNEL} not built: run \`deno task kernel\``);
  const cacheDir = await Deno.makeTempDir({ prefix: "volant-accel-probe-cache-" });
  try {
    const t0 = performance.now();
    const r = await probeKvm({ kernel: KERNEL, cacheDir });
    const wall = performance.now() - t0;
    ok(wall < 3500, `took ${wall} ms`);
    const device = checkKvmDevice("/dev/kvm");
    if (!device.ok) {
      // This machine: no usable KVM device, so no boot is even tried.
      assertEquals([r.usable, r.step, r.reason], [false, "device", device.reason]);
    } else {
      // A KVM device: the boot decides (kvm-pvm: QEMU aborts or the guest stays silent).
      assertEquals(r.step, "boot");
      const again = await probeKvm({ kernel: KERNEL, cacheDir });
      assertEquals([again.usable, again.reason, again.cached], [r.usable, r.reason, true]);
    }
    const d = await decideAccel({ mode: "auto", kernel: KERNEL, cacheDir });
    assertEquals(d.accel, r.usable ? "kvm" : "tcg");
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});
