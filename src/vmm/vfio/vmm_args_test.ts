import assert from "node:assert/strict";
import { VolantError } from "../../errors.ts";
import { chVfioArgs, qemuVfioArgs } from "./vmm_args.ts";

Deno.test("vfio args: QEMU q35 gets one vfio-pci device per address", () => {
  assert.deepEqual(qemuVfioArgs(["0000:01:00.0", "0000:01:00.1"], "q35"), [
    "-device",
    "vfio-pci,host=0000:01:00.0",
    "-device",
    "vfio-pci,host=0000:01:00.1",
  ]);
  assert.deepEqual(qemuVfioArgs([], "microvm"), []);
});

Deno.test("vfio args: microvm is refused naming machine; a bad address names its index", () => {
  assert.throws(
    () => qemuVfioArgs(["0000:01:00.0"], "microvm"),
    (e) => e instanceof VolantError && e.problems[0].field === "machine",
  );
  assert.throws(
    () => chVfioArgs(["0000:01:00.0", "01:00.0,x=1"]),
    (e) => e instanceof VolantError && e.problems[0].field === "devices.pci_passthrough[1]",
  );
});

Deno.test("vfio args: Cloud Hypervisor gets one --device with a path=<sysfs device dir> per device", () => {
  assert.deepEqual(chVfioArgs(["0000:01:00.0", "0000:01:00.1"]), [
    "--device",
    "path=/sys/bus/pci/devices/0000:01:00.0/",
    "path=/sys/bus/pci/devices/0000:01:00.1/",
  ]);
  assert.deepEqual(chVfioArgs([]), []);
});
