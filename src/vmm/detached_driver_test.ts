/**
 * Driver steps that need no guest: prepare (validation first, nothing leaked,
 * qcow2 overlays with real qemu-img, idempotent), destroy, adopt of nothing.
 */
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import type { VmSpec } from "../service/ports.ts";
import { imageInfo } from "./overlay.ts";
import { QemuDriver } from "./qemu/driver.ts";
import { makeRawImage } from "./testing/guest_fixture.ts";
import { exists } from "../shared/fs.ts";

async function setup() {
  const root = await Deno.makeTempDir({ prefix: "volant-vmm-prep-" });
  const kernel = `${root}/vmlinux`;
  await Deno.writeTextFile(kernel, "kernel bytes");
  const base = `${root}/base.img`;
  await makeRawImage(base, 8);
  const driver = new QemuDriver({ runtimeRoot: `${root}/run`, stateRoot: `${root}/state` });
  const spec: VmSpec = {
    name: "vm1",
    runtimeDir: `${root}/run/vm1`,
    stateDir: `${root}/state/vm1`,
    kernel,
    disks: [{
      id: "rootfs",
      path: `${root}/state/vm1/rootfs.qcow2`,
      format: "qcow2",
      readonly: false,
      backingImage: base,
    }],
    cpus: 1,
    memoryMb: 128,
    cmdline: "console=ttyS0",
    machine: "microvm",
    serialLogMaxBytes: 65536,
  };
  return { root, driver, spec, base };
}

Deno.test("prepare creates the runtime dir and a qcow2 overlay over the shared image, idempotently", async () => {
  const { root, driver, spec, base } = await setup();
  try {
    await driver.prepare(spec);
    assertEquals((await Deno.stat(spec.runtimeDir)).mode! & 0o777, 0o700);
    const info = await imageInfo(spec.disks[0].path);
    assertEquals(info.format, "qcow2");
    assertEquals(info.backingFilename, base);
    assertEquals(info.virtualSize, 8 * 1024 * 1024);
    ok((await Deno.stat(spec.disks[0].path)).size < 1024 * 1024, "nothing copied");
    const mtime = (await Deno.stat(spec.disks[0].path)).mtime;
    await driver.prepare(spec);
    assertEquals((await Deno.stat(spec.disks[0].path)).mtime, mtime, "kept, not recreated");
    assertEquals(await driver.adopt("vm1", spec.runtimeDir), null, "nothing to adopt");
    await driver.destroy(spec);
    assertEquals(await exists(spec.runtimeDir, { followLinks: false }), false);
    assertEquals(await exists(spec.stateDir, { followLinks: false }), false);
    ok(await exists(base, { followLinks: false }), "the shared image is untouched");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("prepare with a missing backing image or kernel creates nothing and names the field", async () => {
  const { root, driver, spec } = await setup();
  try {
    await rejects(
      driver.prepare({ ...spec, disks: [{ ...spec.disks[0], backingImage: `${root}/nope.img` }] }),
      (e) => isVolantError(e, "not_found") && e.problems[0].field === "disks[0].backingImage",
    );
    await rejects(
      driver.prepare({ ...spec, kernel: `${root}/missing` }),
      (e) => isVolantError(e, "not_found") && e.problems[0].field === "kernel",
    );
    assertEquals(await exists(spec.runtimeDir, { followLinks: false }), false);
    assertEquals(await exists(spec.stateDir, { followLinks: false }), false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an overlay outside the state dir, or a writable non-qcow2 overlay, is refused", async () => {
  const { root, driver, spec } = await setup();
  try {
    await rejects(
      driver.prepare({ ...spec, disks: [{ ...spec.disks[0], path: `${root}/elsewhere.qcow2` }] }),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "disks[0].path",
    );
    await rejects(
      driver.prepare({ ...spec, disks: [{ ...spec.disks[0], format: "raw" }] }),
      (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "disks[0].format",
    );
    await rejects(
      driver.prepare({ ...spec, cpus: 0, memoryMb: 1 }),
      (e) => isVolantError(e) && e.problems.map((p) => p.field).join() === "cpus,memoryMb",
    );
    assertEquals(await exists(spec.runtimeDir, { followLinks: false }), false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a QEMU binary that does not exist: available() says so, boot is `unavailable`", async () => {
  const { root, spec } = await setup();
  try {
    const d = new QemuDriver({
      binary: "/nonexistent/qemu",
      runtimeRoot: `${root}/run`,
      stateRoot: `${root}/state`,
    });
    const a = await d.available();
    ok(!a.ok && a.reason.includes("apt-get install qemu-system-x86"));
    await rejects(d.boot(spec), (e) => isVolantError(e, "unavailable"));
    assertEquals(await exists(spec.runtimeDir, { followLinks: false }), false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("extraKernelArgs asks for tsc_early_khz under TCG only", async () => {
  const tcg = await new QemuDriver({ accel: "tcg" }).extraKernelArgs();
  assertEquals(tcg.length, 1);
  ok(/^tsc_early_khz=\d+$/.test(tcg[0]), tcg[0]);
  assertEquals(await new QemuDriver({ accel: "kvm" }).extraKernelArgs(), []);
});

Deno.test("adopt with no identity record kills an orphan VMM that names the VM's runtime dir", async () => {
  // The state a daemon SIGKILLed between spawn and writing the record leaves behind.
  const { root, spec } = await setup();
  const fake = `${root}/fake-vmm`;
  await Deno.writeTextFile(fake, "#!/bin/sh\nread line\n"); // blocks on its stdin, no children
  await Deno.chmod(fake, 0o755);
  await Deno.mkdir(spec.runtimeDir, { recursive: true });
  const orphan = new Deno.Command("sh", {
    args: [fake, "-qmp", `unix:${spec.runtimeDir}/qmp.sock,server=on,wait=off`],
    stdin: "piped",
  }).spawn();
  // Another VM's process and a process that is not the VMM binary stay.
  const bystander = new Deno.Command("sh", {
    args: ["-c", "read line", "sh", `${spec.runtimeDir}/serial.log`],
    stdin: "piped",
  }).spawn();
  try {
    const d = new QemuDriver({
      binary: fake,
      runtimeRoot: `${root}/run`,
      stateRoot: `${root}/state`,
    });
    assertEquals(await d.adopt(spec.name, spec.runtimeDir), null);
    const status = await orphan.status;
    assertEquals(status.signal, "SIGKILL");
    ok(
      (await Deno.readTextFile(`/proc/${bystander.pid}/cmdline`)).includes("serial.log"),
      "a process that is not the VMM binary is left alone",
    );
  } finally {
    for (const c of [orphan, bystander]) await killAndReap(c);
    await Deno.remove(root, { recursive: true });
  }
});

/** SIGKILL `c` unless it has exited, then wait for it. */
async function killAndReap(c: Deno.ChildProcess): Promise<void> {
  try {
    c.kill("SIGKILL");
  } catch (e) {
    if (!(e instanceof TypeError)) throw e; // already exited
  }
  await c.status;
}
