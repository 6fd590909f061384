/**
 * The step of the KVM probe that cannot be fooled: boot our guest kernel with
 * the driver's own QEMU command line (buildQemuArgs: same machine, -accel and
 * -cpu) and watch its serial console for a bounded time. No initramfs and no
 * root disk, so the kernel runs all of its init (timers, interrupts, devices)
 * and then says it cannot mount a root file system: that line is the proof.
 * A host whose KVM opens but cannot run the guest (kvm-pvm: QEMU aborts under
 * `-cpu host`, or the guest never prints a byte) fails here within the bound.
 *
 * @module
 */
import { join } from "node:path";
import type { MachineKind } from "../../service/ports.ts";
import { buildQemuArgs } from "../qemu/args.ts";

/** The kernel got through its init: it now looks for a root file system (or panics). */
export const BOOT_MILESTONE =
  /VFS: (Cannot open|Unable to mount) root|Kernel panic|Freeing unused kernel|Run \S+ as init/;

/** What the probe's guest is told: print from the first instruction, stop at once on panic. */
export const PROBE_CMDLINE = "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 reboot=t";

export interface BootTryOptions {
  /** Absolute path of qemu-system-x86_64 (or a stand-in). */
  binary: string;
  /** The guest kernel VMs boot (PVH vmlinux). */
  kernel: string;
  accel: "kvm" | "tcg";
  machine: MachineKind;
  /** Hard bound; QEMU is killed when it passes (default 3000 ms). */
  timeoutMs?: number;
  /** Extra kernel arguments (tsc_early_khz under TCG). */
  extraArgs?: string[];
  /** Milestone to wait for (default {@linkcode BOOT_MILESTONE}). */
  milestone?: RegExp;
  signal?: AbortSignal;
}

export interface BootTryResult {
  ok: boolean;
  /**
   * `booted`: reached the milestone. `exited`: QEMU ended first (or could not
   * run). `silent`: not one byte within the bound. `slow`: the guest printed but
   * did not get through its init within the bound (maybe only an overloaded
   * host: callers should not remember this answer for long).
   */
  outcome: "booted" | "exited" | "silent" | "slow";
  /** Why it failed, or what proved it worked. */
  reason: string;
  /** ms from spawn to the first serial byte, null when none came. */
  firstByteMs: number | null;
  /** ms the try took in all. */
  ms: number;
}

const POLL_MS = 10;

/** Boots the kernel once under `accel` and reports whether it reached the milestone in time. */
export async function tryGuestBoot(o: BootTryOptions): Promise<BootTryResult> {
  const timeoutMs = o.timeoutMs ?? 3000;
  const milestone = o.milestone ?? BOOT_MILESTONE;
  const dir = await Deno.makeTempDir({ prefix: "volant-accel-probe-" });
  const serialLog = join(dir, "serial.log");
  const argv = buildQemuArgs({
    name: "accel-probe",
    runtimeDir: dir,
    stateDir: dir,
    kernel: o.kernel,
    disks: [],
    cpus: 1,
    memoryMb: 128,
    cmdline: [PROBE_CMDLINE, ...(o.extraArgs ?? [])].join(" "),
    machine: o.machine,
    serialLogMaxBytes: 1024 * 1024,
  }, {
    binary: o.binary,
    accel: o.accel,
    qmpSocket: join(dir, "qmp.sock"),
    serialSocket: join(dir, "serial.sock"),
    serialLog,
  });
  const start = performance.now();
  const elapsed = () => Math.round(performance.now() - start);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
      return {
        ok: false,
        outcome: "exited",
        reason: `cannot run ${o.binary}: ${error.message}`,
        firstByteMs: null,
        ms: 0,
      };
    }
    throw error;
  }
  const stderr = new Response(child.stderr).text();
  let exited: Deno.CommandStatus | null = null;
  const status = child.status.then((s) => exited = s);
  let firstByteMs: number | null = null;
  let text = "";
  try {
    while (true) {
      text = await readIfThere(serialLog);
      if (text.length > 0 && firstByteMs === null) firstByteMs = elapsed();
      const hit = milestone.exec(text);
      if (hit) {
        const line = lineAt(text, hit.index);
        return {
          ok: true,
          outcome: "booted",
          reason: `guest kernel booted under ${o.accel} in ${elapsed()} ms ("${line}")`,
          firstByteMs,
          ms: elapsed(),
        };
      }
      if (exited !== null) {
        const s = exited as Deno.CommandStatus;
        const err = lastLine(await stderr) || "no message";
        const how = s.signal ? `was killed by ${s.signal}` : `exited with code ${s.code}`;
        return {
          ok: false,
          outcome: "exited",
          reason: text.length === 0
            ? `QEMU ${how} before the guest printed anything: ${err}`
            : `QEMU ${how} before the guest finished booting: ${err}`,
          firstByteMs,
          ms: elapsed(),
        };
      }
      if (elapsed() >= timeoutMs || o.signal?.aborted) {
        const secs = `${(timeoutMs / 1000).toFixed(timeoutMs % 1000 === 0 ? 0 : 1)} s`;
        return {
          ok: false,
          outcome: text.length === 0 ? "silent" : "slow",
          reason: text.length === 0
            ? `guest printed nothing in ${secs}`
            : `guest printed ${text.length} bytes but did not finish booting in ${secs} ` +
              `(last line: "${lastLine(text)}")`,
          firstByteMs,
          ms: elapsed(),
        };
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    if (exited === null) killQuietly(child);
    await status;
    await stderr;
    await Deno.remove(dir, { recursive: true });
  }
}

/** SIGKILL by our child handle; one that exited between the check and the kill is fine. */
function killQuietly(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
}

async function readIfThere(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
}

/** The whole line holding offset `at`, trimmed and cut to 160 characters. */
function lineAt(text: string, at: number): string {
  const start = text.lastIndexOf("\n", at) + 1;
  const end = text.indexOf("\n", at);
  return text.slice(start, end < 0 ? undefined : end).trim().slice(0, 160);
}

/** The last non-empty line, trimmed and cut to 160 characters. */
function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  return (lines.at(-1) ?? "").slice(0, 160);
}
