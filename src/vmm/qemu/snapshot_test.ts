/**
 * QEMU snapshot/restore through the driver, real QEMU (TCG here) booting our
 * kernel with the busybox test guest: save a running guest, end its VMM,
 * restore into a new VMM, and the same guest (same shell process, same
 * uptime line, overlay contents) answers on its console; RAM is saved as an
 * image beside a device-state stream (format 2) and mapped on restore; the
 * restored VM's own snapshot (format 1, RAM in the stream) loads too. A
 * truncated state file makes the restore fail and leaves no VMM behind.
 * ~30 s idle.
 */
import assert from "node:assert/strict";
import type { VmProcess, VmSpec } from "../../service/ports.ts";
import { waitForSerial } from "../conformance.ts";
import { connectConsole } from "../serial.ts";
import { buildTestGuest, GUEST_LINES } from "../testing/guest_fixture.ts";
import { QEMU_STATE_FILE, QemuDriver } from "./driver.ts";
import { FORMAT_FILE, RAM_IMAGE_FILE } from "./ram_image.ts";

Deno.test("QEMU: snapshot a running guest, restore it in a new VMM, truncated state refused", async () => {
  const guest = await buildTestGuest(); // fails saying how to build the kernel
  const root = await Deno.makeTempDir({ prefix: "volant-qsnap-" });
  const driver = new QemuDriver({
    runtimeRoot: `${root}/run`,
    stateRoot: `${root}/state`,
    startTimeoutMs: 30_000,
  });
  const extra = await driver.extraKernelArgs();
  const spec: VmSpec = {
    name: "snap1",
    runtimeDir: `${root}/run/snap1`,
    stateDir: `${root}/state/snap1`,
    kernel: guest.kernel,
    initramfs: guest.initramfs,
    disks: [],
    cpus: 1,
    memoryMb: 128,
    cmdline: [guest.cmdline, ...extra].join(" "),
    machine: "microvm",
    serialLogMaxBytes: 1 << 20,
  };
  const snapDir = `${root}/snap`;
  const procs: VmProcess[] = [];
  try {
    const proc = await driver.boot(spec);
    procs.push(proc);
    const log = await waitForSerial(proc, GUEST_LINES.disks, 60_000);
    const readyLine = log.split("\n").find((l) => l.includes(GUEST_LINES.ready))!;
    await say(proc, "before-snapshot");

    await driver.snapshot(proc, snapDir, { resume: false });
    assert.equal((await driver.info(proc)).state, "paused", "stays stopped after the save");
    const size = (await Deno.stat(`${snapDir}/${QEMU_STATE_FILE}`)).size;
    // Format 2: the stream is device state only (x-ignore-shared), RAM is the image beside it.
    assert.ok(size < 1 << 20, `state file holds no RAM (${size} bytes)`);
    assert.equal((await Deno.stat(`${snapDir}/${RAM_IMAGE_FILE}`)).size, 128 << 20);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${snapDir}/${FORMAT_FILE}`)), {
      format: 2,
      memory_mb: 128,
    });
    await driver.kill(proc);

    const restored = await driver.restore(spec, snapDir);
    procs.push(restored);
    assert.notEqual(restored.pid, proc.pid);
    assert.equal((await driver.info(restored)).state, "running");
    // The same init loop answers: no second boot happened (one READY line, the old one).
    const after = await say(restored, "after-restore");
    assert.equal(after.split(GUEST_LINES.ready).length - 1, 1, "no new boot");
    assert.ok(after.includes(readyLine));

    // A restored VM's RAM is the private mapping of the image, which no fd shows: its own
    // snapshot carries RAM in the stream (format 1), and that older format still loads.
    const snapDir1 = `${root}/snap-f1`;
    await driver.snapshot(restored, snapDir1, { resume: false });
    await driver.kill(restored);
    assert.ok((await Deno.stat(`${snapDir1}/${QEMU_STATE_FILE}`)).size > 1 << 20, "RAM in stream");
    await assert.rejects(Deno.stat(`${snapDir1}/${FORMAT_FILE}`), Deno.errors.NotFound);
    const again = await driver.restore(spec, snapDir1);
    procs.push(again);
    const f1 = await say(again, "after-format-1");
    assert.equal(f1.split(GUEST_LINES.ready).length - 1, 1, "still no new boot");
    await driver.kill(again);

    // A truncated stream: QEMU rejects it, the restore fails, no VMM is left.
    const file = `${snapDir}/${QEMU_STATE_FILE}`;
    const f = await Deno.open(file, { write: true });
    await f.truncate(Math.floor(size / 2));
    f.close();
    await assert.rejects(driver.restore(spec, snapDir), /failed to start|exited|load/i);
    const rec = await Deno.readTextFile(`${spec.runtimeDir}/pid`).catch(() => "");
    assert.equal(rec, "", "no pid file left by the failed restore");
  } finally {
    for (const p of procs) await driver.kill(p); // no-op for one already gone
    await Deno.remove(root, { recursive: true });
    await Deno.remove(guest.dir, { recursive: true });
  }
});

/** Types a line on the console and waits for the guest's echo (the UART drops what it cannot take). */
async function say(proc: VmProcess, line: string): Promise<string> {
  const conn = await connectConsole(proc.serialSocket);
  try {
    // Typed again until echoed: a busy TCG guest's UART loses bytes typed during its early output.
    for (let i = 0;; i++) {
      await conn.write(new TextEncoder().encode(`${line}\n`));
      try {
        return await waitForSerial(proc, `${GUEST_LINES.echo} ${line}`, 3_000);
      } catch (e) {
        if (i === 10) throw e;
      }
    }
  } finally {
    conn.close();
  }
}
