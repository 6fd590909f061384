/**
 * One conformance suite every Hypervisor driver runs: boot a minimal guest,
 * read its serial output, console round trip, pause/resume, graceful shutdown
 * through the power button, forced kill, crash detection (guest powers off on
 * its own; guest panic, which must not loop reboots; VMM killed from outside), adoption by a fresh driver instance after
 * the booting process exited, and failure paths that must leak nothing.
 *
 * The guest is src/vmm/testing/guest_fixture.ts (or a driver's contract fake
 * that prints the same lines).
 *
 * @module
 */
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import { isVolantError } from "../errors.ts";
import type { Hypervisor, MachineKind, VmExit, VmProcess, VmSpec } from "../service/ports.ts";
import { sleep } from "./exit_watch.ts";
import { isSameLiveProcess } from "./proc.ts";
import { readIdentity, runtimePath } from "./runtime_dir.ts";
import { connectConsole, tailSerialLog } from "./serial.ts";
import { GUEST_LINES, makeRawImage, type TestGuest } from "./testing/guest_fixture.ts";
import { exists } from "../shared/fs.ts";

/** What a driver brings to the suite. */
export interface ConformanceTarget {
  label: string;
  /** A new driver instance: a second call is "the daemon after a restart". */
  makeDriver(): Hypervisor;
  /** Boots `spec` from another process that then exits (the daemon dying mid-flight). */
  bootElsewhere(spec: VmSpec): Promise<void>;
  runtimeRoot: string;
  stateRoot: string;
  guest: TestGuest;
  machine: MachineKind;
  /** Whether the target supports these (a contract fake may not). */
  supports: { pause: boolean; console: boolean; overlays: boolean };
  /**
   * The VMM reboots a guest in place (Cloud Hypervisor): the driver must end it
   * and report `guest: "reboot"`. False: the VMM exits by itself (QEMU -no-reboot).
   */
  rebootsInPlace?: boolean;
  /** Per-wait timeout for guest lines (TCG on a loaded host is slow). */
  lineTimeoutMs: number;
}

/** Waits until the serial log contains `needle`; returns the log. */
export async function waitForSerial(
  proc: Pick<VmProcess, "serialLog">,
  needle: string,
  timeoutMs: number,
): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  let text = "";
  while (performance.now() < deadline) {
    try {
      text = await Deno.readTextFile(proc.serialLog);
      if (text.includes(needle)) return text;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    await sleep(25);
  }
  throw new Error(
    `no "${needle}" in ${proc.serialLog} after ${timeoutMs} ms; last lines:\n` +
      text.split("\n").slice(-15).join("\n"),
  );
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the suite as steps of `t`. Every VM it boots is gone when it returns. */
export async function runConformance(t: Deno.TestContext, target: ConformanceTarget) {
  const driver = target.makeDriver();
  const avail = await driver.available();
  if (!avail.ok) throw new Error(`${target.label} not available: ${avail.reason}`);
  const extra = (await driver.extraKernelArgs?.()) ?? [];
  const live: { driver: Hypervisor; proc: VmProcess }[] = [];
  let n = 0;

  const specFor = (over: Partial<VmSpec> & { extraCmdline?: string } = {}): VmSpec => {
    const name = over.name ?? `conf-${++n}`;
    const { extraCmdline, ...rest } = over;
    return {
      name,
      runtimeDir: `${target.runtimeRoot}/${name}`,
      stateDir: `${target.stateRoot}/${name}`,
      kernel: target.guest.kernel,
      initramfs: target.guest.initramfs,
      disks: [],
      cpus: 1,
      memoryMb: 128,
      cmdline: [target.guest.cmdline, ...extra, extraCmdline ?? ""].join(" ").trim(),
      machine: target.machine,
      serialLogMaxBytes: 1 << 20,
      ...rest,
    };
  };
  const boot = async (spec: VmSpec, d = driver) => {
    const proc = await d.boot(spec);
    live.push({ driver: d, proc });
    return proc;
  };
  const exitOf = (d: Hypervisor, proc: VmProcess, what: string): Promise<VmExit> =>
    withTimeout(d.exited(proc), target.lineTimeoutMs * 2, what);

  try {
    await t.step(
      "boot: serial output, disks, info, console, pause/resume, power button",
      async () => {
        const spec = specFor();
        if (target.supports.overlays) {
          const ro = `${target.guest.dir}/ro.img`;
          const base = `${target.guest.dir}/base.img`;
          await makeRawImage(ro);
          await makeRawImage(base);
          spec.disks = [
            { id: "ro", path: ro, format: "raw", readonly: true },
            {
              id: "rw",
              path: `${spec.stateDir}/rw.qcow2`,
              format: "qcow2",
              readonly: false,
              backingImage: base,
            },
          ];
        }
        const proc = await boot(spec);
        ok(proc.pid > 0);
        assertEquals(proc.serialLog, runtimePath(spec.runtimeDir, "serialLog"));
        for (const f of ["pid", "identity"] as const) {
          ok(
            await exists(runtimePath(spec.runtimeDir, f), { followLinks: false }),
            `${f} file missing`,
          );
        }
        const rec = await readIdentity(spec.runtimeDir);
        assertEquals(rec?.pid, proc.pid);
        assertEquals(rec?.startTime, proc.startTime);
        const log = await waitForSerial(proc, GUEST_LINES.ready, target.lineTimeoutMs);
        if (target.supports.overlays) {
          const disks = await waitForSerial(proc, GUEST_LINES.disks, target.lineTimeoutMs);
          ok(/VOLANT_TEST_DISKS vda vdb/.test(disks), "guest sees both disks: " + log.slice(-300));
          ok(
            await exists(`${spec.stateDir}/rw.qcow2`, { followLinks: false }),
            "overlay created in stateDir",
          );
        }
        assertEquals((await driver.info(proc)).state, "running");
        ok((await tailSerialLog(proc.serialLog, 50)).includes(GUEST_LINES.ready));
        if (target.supports.console) {
          const conn = await connectConsole(proc.serialSocket);
          try {
            await conn.write(new TextEncoder().encode("hello-console\n"));
            await waitForSerial(proc, `${GUEST_LINES.echo} hello-console`, target.lineTimeoutMs);
          } finally {
            conn.close();
          }
        }
        if (target.supports.pause && driver.pause && driver.resume) {
          await driver.pause(proc);
          assertEquals((await driver.info(proc)).state, "paused");
          await driver.resume(proc);
          assertEquals((await driver.info(proc)).state, "running");
          // Left paused: the graceful shutdown below must resume it to be honoured.
          await driver.pause(proc);
        }
        await withTimeout(
          driver.shutdown(proc, { graceMs: target.lineTimeoutMs }),
          target.lineTimeoutMs * 2,
          "shutdown",
        );
        const exit = await driver.exited(proc);
        assertEquals(exit, { code: 0, signal: null, requested: true });
        await waitForSerial(proc, GUEST_LINES.powerButton, 1000);
        assertEquals(await isSameLiveProcess(proc), false);
        assertEquals((await driver.info(proc)).state, "shutdown");
        // Stop/start keeps the overlay; destroy removes it and the runtime dir.
        if (target.supports.overlays) {
          const before = (await Deno.stat(`${spec.stateDir}/rw.qcow2`)).mtime;
          await driver.prepare(spec);
          assertEquals((await Deno.stat(`${spec.stateDir}/rw.qcow2`)).mtime, before);
        }
        await driver.destroy(spec);
        assertEquals(await exists(spec.runtimeDir, { followLinks: false }), false);
        assertEquals(await exists(spec.stateDir, { followLinks: false }), false);
      },
    );

    await t.step("forced kill: exits by SIGKILL, requested", async () => {
      const spec = specFor();
      const proc = await boot(spec);
      await waitForSerial(proc, GUEST_LINES.ready, target.lineTimeoutMs);
      await withTimeout(driver.kill(proc), 10_000, "kill");
      assertEquals(await driver.exited(proc), { code: null, signal: "SIGKILL", requested: true });
      assertEquals(await isSameLiveProcess(proc), false);
      await driver.destroy(spec);
    });

    await t.step("crash: the guest powers off on its own -> requested=false", async () => {
      const spec = specFor({ extraCmdline: "volant_test=poweroff" });
      const proc = await boot(spec);
      const exit = await exitOf(driver, proc, "guest poweroff");
      assertEquals(exit.requested, false);
      assertEquals(exit.code, 0);
      await waitForSerial(proc, GUEST_LINES.poweroff, 1000);
      await driver.destroy(spec);
    });

    await t.step(
      "crash: a guest panic ends the VMM (no reboot loop) -> requested=false",
      async () => {
        // The test guest's init exits; the kernel panics and, with panic=-1, resets.
        const spec = specFor({ extraCmdline: "volant_test=panic" });
        const proc = await boot(spec);
        const exit = await exitOf(driver, proc, "guest panic");
        assertEquals(exit.requested, false);
        assertEquals(exit.guest, target.rebootsInPlace ? "reboot" : undefined);
        await waitForSerial(proc, "init exiting on purpose", 1000);
        assertEquals(await isSameLiveProcess(proc), false);
        await driver.destroy(spec);
      },
    );

    await t.step("crash: the VMM is killed from outside -> requested=false", async () => {
      const spec = specFor();
      const proc = await boot(spec);
      await waitForSerial(proc, GUEST_LINES.ready, target.lineTimeoutMs);
      Deno.kill(proc.pid, "SIGKILL");
      assertEquals(await exitOf(driver, proc, "outside kill"), {
        code: null,
        signal: "SIGKILL",
        requested: false,
      });
      await driver.destroy(spec);
    });

    await t.step("adopt: a fresh driver re-attaches after the booting process exited", async () => {
      const spec = specFor();
      await target.bootElsewhere(spec);
      const fresh = target.makeDriver();
      const proc = await fresh.adopt(spec.name, spec.runtimeDir);
      ok(proc, "adopt found the VMM the other process booted");
      live.push({ driver: fresh, proc });
      await waitForSerial(proc, GUEST_LINES.ready, target.lineTimeoutMs);
      assertEquals((await fresh.info(proc)).state, "running");
      // Destroy refuses while it runs.
      await rejects(fresh.destroy(spec), (e) => isVolantError(e, "conflict"));
      // A second adopt of a record whose start time does not match is refused.
      const rec = await readIdentity(spec.runtimeDir);
      const other = `${target.runtimeRoot}/conf-recycled`;
      await Deno.mkdir(other, { recursive: true });
      await Deno.writeTextFile(
        `${other}/vmm.json`,
        JSON.stringify({ ...rec, name: "conf-recycled", startTime: "1" }),
      );
      assertEquals(await fresh.adopt("conf-recycled", other), null, "recycled pid not trusted");
      await Deno.remove(other, { recursive: true });
      // An exit of the adopted VMM is noticed (pidfd): killed from outside = not requested.
      Deno.kill(proc.pid, "SIGKILL");
      const exit = await exitOf(fresh, proc, "adopted exit");
      assertEquals(exit.requested, false);
      assertEquals(await fresh.adopt(spec.name, spec.runtimeDir), null, "gone after exit");
      await fresh.destroy(spec);
    });

    await t.step("adopt then graceful shutdown through the fresh driver", async () => {
      const spec = specFor();
      await target.bootElsewhere(spec);
      const fresh = target.makeDriver();
      const proc = await fresh.adopt(spec.name, spec.runtimeDir);
      ok(proc);
      live.push({ driver: fresh, proc });
      await waitForSerial(proc, GUEST_LINES.ready, target.lineTimeoutMs);
      await withTimeout(
        fresh.shutdown(proc, { graceMs: target.lineTimeoutMs }),
        target.lineTimeoutMs * 2,
        "shutdown",
      );
      assertEquals((await fresh.exited(proc)).requested, true);
      await waitForSerial(proc, GUEST_LINES.powerButton, 1000);
      await fresh.destroy(spec);
    });

    await t.step(
      "failure paths: bad kernel, missing artifact, bad names leak nothing",
      async () => {
        const missing = specFor({ kernel: "/nonexistent/vmlinux" });
        await rejects(driver.boot(missing), (e) => {
          return isVolantError(e, "not_found") && e.problems.some((p) => p.field === "kernel");
        });
        assertEquals(
          await exists(missing.runtimeDir, { followLinks: false }),
          false,
          "no runtime dir after a bad kernel",
        );
        await rejects(driver.prepare(missing), (e) => isVolantError(e, "not_found"));
        assertEquals(await exists(missing.runtimeDir, { followLinks: false }), false);

        const noDisk = specFor({
          disks: [{ id: "d", path: "/nonexistent/disk.img", format: "raw", readonly: true }],
        });
        await rejects(driver.boot(noDisk), (e) => {
          return isVolantError(e) && e.problems.some((p) => p.field === "disks[0].path");
        });
        assertEquals(await exists(noDisk.runtimeDir, { followLinks: false }), false);

        const badName = specFor({ name: "Bad_Name" });
        await rejects(driver.boot(badName), (e) => {
          return isVolantError(e, "invalid_input") && e.problems.some((p) => p.field === "name");
        });
        const escape = specFor({ name: "conf-esc", runtimeDir: `${target.runtimeRoot}/../esc` });
        await rejects(driver.boot(escape), (e) => {
          return isVolantError(e, "invalid_input") &&
            e.problems.some((p) => p.field === "runtimeDir");
        });
        assertEquals(await exists(`${target.runtimeRoot}/../esc`, { followLinks: false }), false);

        // A kernel file that exists but is garbage: the VMM fails, the error says why, no process.
        const garbage = `${target.guest.dir}/garbage-kernel`;
        await Deno.writeTextFile(garbage, "not a kernel\n");
        const bad = specFor({ kernel: garbage });
        const before = await vmmPids(target.runtimeRoot);
        const err = await driver.boot(bad).then(
          (p) => {
            live.push({ driver, proc: p });
            return null;
          },
          (e) => e,
        );
        ok(err && isVolantError(err, "upstream"), `a garbage kernel fails boot: ${err}`);
        assertEquals(
          await exists(bad.runtimeDir, { followLinks: false }),
          false,
          "runtime dir removed after failed boot",
        );
        assertEquals(
          await exists(bad.stateDir, { followLinks: false }),
          false,
          "state dir removed after failed boot",
        );
        const after = await vmmPids(target.runtimeRoot);
        assertEquals([...after].filter((p) => !before.has(p)), [], "no VMM process left");
      },
    );
  } finally {
    for (const { driver: d, proc } of live) {
      if (await isSameLiveProcess(proc)) {
        await d.kill(proc).catch((e) => console.error(`cleanup kill ${proc.name}: ${e}`));
      }
    }
  }
}

/**
 * Pids of processes whose argv mentions `root` (our runtime root: other people's
 * VMMs on a shared host do not count), for leak checks.
 */
async function vmmPids(root: string): Promise<Set<number>> {
  const pids = new Set<number>();
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
      if (cmd.includes(root)) pids.add(Number(e.name));
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return pids;
}
