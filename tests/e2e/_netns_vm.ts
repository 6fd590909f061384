/**
 * One QEMU microvm guest on a TAP in a network namespace this helper creates
 * and deletes (bridge br0 with the host side's address, tap0 enslaved), for
 * the e2e suites that talk to a guest over the network (DHCP, cloud-init).
 * Everything that changes links runs inside the namespace; QEMU runs in it
 * through `ip netns exec` (which execs, so the pid is QEMU's own).
 *
 * @module
 */
import { join } from "node:path";
import { guestKernel, hostQemuAccel, requireQemu } from "./_guest_vm.ts";

export async function sh(
  cmd: string[],
  check = true,
): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" })
    .output();
  const r = {
    code: o.code,
    out: new TextDecoder().decode(o.stdout),
    err: new TextDecoder().decode(o.stderr),
  };
  if (check && o.code !== 0) throw new Error(`${cmd.join(" ")} failed (${o.code}): ${r.err}`);
  return r;
}

/** Fails (never skips) naming the package of each missing tool. */
export async function requireTools(tools: [string, string][]): Promise<void> {
  await requireQemu();
  for (const [tool, pkg] of [["ip", "iproute2"], ["curl", "curl"], ...tools]) {
    const ok = await sh(["sh", "-c", `command -v ${tool}`], false);
    if (ok.code !== 0) throw new Error(`${tool} missing: apt-get install -y ${pkg}`);
  }
}

export class TestNetns {
  readonly name = `vfl${Deno.pid}x${Math.floor(Math.random() * 1e6)}`;
  constructor(readonly hostCidr: string) {}
  async create(): Promise<void> {
    await sh(["ip", "netns", "add", this.name]);
    const ip = (...a: string[]) => sh(["ip", "-n", this.name, ...a]);
    await ip("link", "set", "lo", "up");
    await ip("link", "add", "br0", "type", "bridge");
    await ip("addr", "add", this.hostCidr, "dev", "br0");
    await ip("link", "set", "br0", "up");
    await ip("tuntap", "add", "tap0", "mode", "tap");
    await ip("link", "set", "tap0", "master", "br0");
    await ip("link", "set", "tap0", "up");
  }
  exec(cmd: string[], check = true) {
    return sh(["ip", "netns", "exec", this.name, ...cmd], check);
  }
  /** GET from inside the namespace: [status, body]. */
  async get(url: string): Promise<[number, string]> {
    const r = await this.exec(["curl", "-s", "-m", "10", "-w", "\n%{http_code}", url], false);
    const cut = r.out.lastIndexOf("\n");
    return [Number(r.out.slice(cut + 1)) || 0, r.out.slice(0, cut)];
  }
  async delete(): Promise<void> {
    await sh(["ip", "netns", "del", this.name], false);
  }
}

export interface NetVmOptions {
  initrd: string;
  disks: { path: string; readonly?: boolean; format?: "raw" | "qcow2" }[];
  append: string;
  mac: string;
  memMiB?: number;
}

export class NetVm {
  readonly child: Deno.ChildProcess;
  readonly startedAt = performance.now();
  exited = false;
  readonly status: Promise<Deno.CommandStatus>;
  private constructor(readonly dir: string, args: string[]) {
    this.child = new Deno.Command("ip", { args, stdin: "null", stdout: "null", stderr: "piped" })
      .spawn();
    this.status = this.child.status.then((s) => {
      this.exited = true;
      return s;
    });
  }

  static async start(ns: TestNetns, dir: string, o: NetVmOptions): Promise<NetVm> {
    const kernel = await guestKernel();
    const accel = await hostQemuAccel();
    const args = [
      ...["netns", "exec", ns.name, "qemu-system-x86_64"],
      ...["-M", "microvm", ...accel.qemuArgs, "-smp", "1", "-m", `${o.memMiB ?? 512}M`],
      ...["-no-reboot", "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none"],
      ...["-kernel", kernel, "-initrd", o.initrd],
      "-append",
      ["console=ttyS0 panic=-1 reboot=t", ...accel.kernelArgs, o.append].join(" "),
      ...["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"],
      ...["-device", `virtio-net-device,netdev=n0,mac=${o.mac}`],
      ...[
        "-object",
        "rng-random,id=rng0,filename=/dev/urandom",
        "-device",
        "virtio-rng-device,rng=rng0",
      ],
      "-chardev",
      `socket,id=ser0,path=${join(dir, "serial.sock")},server=on,wait=off,logfile=${
        join(dir, "serial.log")
      }`,
      ...["-serial", "chardev:ser0"],
    ];
    o.disks.forEach((d, i) => {
      const ro = d.readonly ? ",readonly=on" : "";
      args.push("-drive", `id=d${i},file=${d.path},format=${d.format ?? "raw"},if=none${ro}`);
      args.push("-device", `virtio-blk-device,drive=d${i}`);
    });
    return new NetVm(dir, args);
  }

  async console(): Promise<string> {
    try {
      return await Deno.readTextFile(join(this.dir, "serial.log"));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return "";
      throw e;
    }
  }

  async waitFor(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const text = await this.console();
      const m = re.exec(text);
      if (m) return m;
      if (this.exited || performance.now() > deadline) {
        const err = this.exited
          ? `; qemu: ${(await new Response(this.child.stderr).text()).trim()}`
          : "";
        throw new Error(
          `${re} not on the console (${this.exited ? "VM exited" : "timeout"})${err}:\n${
            text.slice(-3000)
          }`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async kill(): Promise<void> {
    if (!this.exited) this.child.kill("SIGKILL");
    await this.status;
    await this.child.stderr.cancel().catch((e) => {
      if (!(e instanceof TypeError)) throw e; // already read for an error message
    });
  }
}
