/**
 * Boots real microVMs under QEMU for the guest tests and the guest bench
 * (the command line from ../shared/design/environment.md): microvm, PVH
 * vmlinux, serial on a socket chardev whose logfile keeps every byte. The
 * accelerator is the host's one decision, the same the daemon makes (the KVM
 * probe of src/vmm/accel, shared through its cache): {@linkcode hostQemuAccel}.
 *
 * @module
 */
import { join } from "node:path";
import { hostAccel } from "../../src/vmm/accel/mod.ts";
import { accelArgs } from "../../src/vmm/qemu/args.ts";

/**
 * The guest kernel from `deno task kernel` (PVH vmlinux by default, or the
 * bzImage beside it), or a clear error saying how to build it.
 */
export async function guestKernel(kind: "vmlinux" | "bzImage" = "vmlinux"): Promise<string> {
  const cache = Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant";
  const override = kind === "vmlinux" ? Deno.env.get("VOLANT_KERNEL") : undefined;
  const path = override ?? join(cache, "kernel", "current", kind);
  try {
    await Deno.stat(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new Error(`guest kernel ${path} not built: run \`deno task kernel\` (about 12 min)`);
  }
  return path;
}

/** Fails with an install hint when qemu-system-x86_64 is missing. */
export async function requireQemu(): Promise<void> {
  const ok = await new Deno.Command("qemu-system-x86_64", { args: ["--version"], stdout: "null" })
    .output().then((o) => o.success, () => false);
  if (!ok) {
    throw new Error(
      "qemu-system-x86_64 missing: apt-get install -y --no-install-recommends qemu-system-x86",
    );
  }
}

/** Host TSC in kHz: microvm under TCG hangs at TSC calibration without it. */
export function hostTscKhz(): number {
  const mhz = /cpu MHz\s*:\s*([\d.]+)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1];
  if (!mhz) throw new Error("no 'cpu MHz' in /proc/cpuinfo");
  return Math.round(Number(mhz) * 1000);
}

/** What a QEMU command line needs for this host's accelerator decision. */
export interface QemuAccel {
  accel: "kvm" | "tcg";
  /** `-accel X -cpu Y`, as the driver passes them. */
  qemuArgs: string[];
  /** Kernel arguments the accelerator needs (`tsc_early_khz` under TCG, none under KVM). */
  kernelArgs: string[];
}

/** The host's accelerator (the daemon's decision: probe + cache), as QEMU and kernel args. */
export async function hostQemuAccel(): Promise<QemuAccel> {
  const { accel } = await hostAccel();
  return {
    accel,
    qemuArgs: accelArgs(accel),
    kernelArgs: accel === "tcg" ? [`tsc_early_khz=${hostTscKhz()}`] : [],
  };
}

export interface GuestOptions {
  kernel: string;
  /** The host's accelerator decision ({@linkcode hostQemuAccel}). */
  accel: QemuAccel;
  initrd: string;
  /** virtio-blk disks in order (vda, vdb, ...). */
  disks?: { path: string; readonly?: boolean }[];
  /** Appended after the base arguments. */
  append?: string;
  memMiB?: number;
  /** Directory for serial.sock / serial.log / qmp.sock (created by the caller). */
  dir: string;
  /** microvm (virtio-mmio, default) or q35 (virtio-pci, the bus Cloud Hypervisor uses). */
  machine?: "microvm" | "q35";
  /**
   * Attach virtio-rng (default true): without an entropy source the guest's
   * getrandom() blocks Deno's start until the kernel's jitter entropy is done.
   */
  rng?: boolean;
  /**
   * Attach the agent channel as volantd does (a virtio-serial-pci port
   * `org.volant.agent` on `<dir>/agent.sock`, nobody connected), so kestrel
   * starts its channel code as in a real VM.
   */
  agentChannel?: boolean;
}

/** A running guest. Always `kill()` it in a finally block. */
export class GuestVm {
  readonly startedAt: number;
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #exited = false;
  readonly serialLog: string;
  /** QEMU's own stderr (errors about its arguments, disks, ...). */
  readonly stderr: Promise<string>;

  constructor(o: GuestOptions) {
    this.serialLog = join(o.dir, "serial.log");
    const args = [
      // microvm gets a PCIe bus with the agent channel, as volantd's (src/vmm/qemu/args.ts).
      ...["-M", o.machine ?? (o.agentChannel ? "microvm,pcie=on" : "microvm")],
      ...[...o.accel.qemuArgs, "-smp", "1"],
      ...["-m", `${o.memMiB ?? 512}M`, "-no-reboot", "-nodefaults", "-no-user-config"],
      ...["-display", "none", "-monitor", "none"],
      ...["-kernel", o.kernel, "-initrd", o.initrd],
      "-append",
      ["console=ttyS0 panic=-1 reboot=t", ...o.accel.kernelArgs, o.append ?? ""].join(" ").trim(),
      "-chardev",
      `socket,id=ser0,path=${
        join(o.dir, "serial.sock")
      },server=on,wait=off,logfile=${this.serialLog}`,
      ...["-serial", "chardev:ser0"],
      ...["-qmp", `unix:${join(o.dir, "qmp.sock")},server=on,wait=off`],
    ];
    const bus = o.machine === "q35" ? "pci" : "device";
    if (o.rng !== false) args.push("-device", `virtio-rng-${bus}`);
    if (o.agentChannel) {
      args.push("-device", "virtio-serial-pci,id=vser0,max_ports=2");
      args.push(
        "-chardev",
        `socket,id=agentch,path=${join(o.dir, "agent.sock")},server=on,wait=off`,
      );
      args.push("-device", "virtserialport,bus=vser0.0,chardev=agentch,name=org.volant.agent");
    }
    const blk = `virtio-blk-${bus}`;
    (o.disks ?? []).forEach((d, i) => {
      const ro = d.readonly ? ",readonly=on" : "";
      args.push("-drive", `id=d${i},file=${d.path},format=raw,if=none${ro}`);
      args.push("-device", `${blk},drive=d${i}`);
    });
    this.startedAt = performance.now();
    this.#child = new Deno.Command("qemu-system-x86_64", {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.stderr = new Response(this.#child.stderr).text();
    this.status = this.#child.status.then((s) => {
      this.#exited = true;
      return s;
    });
  }

  get pid(): number {
    return this.#child.pid;
  }

  /**
   * CPU time QEMU has used so far (user + system, ms, 10 ms ticks): a load-robust
   * companion to wall time on a shared host.
   */
  async cpuMs(): Promise<number> {
    const stat = await Deno.readTextFile(`/proc/${this.pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime at USER_HZ=100
  }

  /** The serial console so far ("" before the first byte). */
  async console(): Promise<string> {
    try {
      return await Deno.readTextFile(this.serialLog);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return "";
      throw e;
    }
  }

  /**
   * Waits until the console matches `re`; returns the match and the ms since
   * QEMU was started. Throws with the console tail on timeout or VM exit.
   */
  async waitFor(re: RegExp, timeoutMs: number): Promise<{ match: RegExpExecArray; ms: number }> {
    const deadline = performance.now() + timeoutMs;
    while (true) {
      const text = await this.console();
      const m = re.exec(text);
      if (m) return { match: m, ms: performance.now() - this.startedAt };
      if (this.#exited || performance.now() > deadline) {
        const why = this.#exited ? "the VM exited" : `${timeoutMs} ms passed`;
        const err = this.#exited ? `; qemu stderr: ${(await this.stderr).trim()}` : "";
        throw new Error(
          `${re} not on the console: ${why}${err}; console tail:\n${text.slice(-1500)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Waits for QEMU to exit by itself; returns its status and ms since start. */
  async waitExit(timeoutMs: number): Promise<{ code: number; ms: number }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), timeoutMs));
    const s = await Promise.race([this.status, timeout]);
    clearTimeout(timer);
    if (!s) throw new Error(`QEMU (pid ${this.pid}) still running after ${timeoutMs} ms`);
    return { code: s.code, ms: performance.now() - this.startedAt };
  }

  /** Kills this QEMU by PID (if still running) and waits for it. */
  async kill(): Promise<void> {
    if (!this.#exited) {
      try {
        this.#child.kill("SIGKILL");
      } catch (e) {
        if (!(e instanceof TypeError)) throw e; // already exited between the check and kill
      }
    }
    await this.status;
    await this.stderr;
  }
}
