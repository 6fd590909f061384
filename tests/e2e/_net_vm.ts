/**
 * A QEMU microvm with a virtio NIC on a TAP inside a network namespace the
 * test creates and deletes (bridge br0 with the host side's address, tap0
 * enslaved), for the guest suites that reach the guest at its address
 * (workload first, DHCP, cloud-init). Everything that changes links runs
 * inside the namespace; QEMU runs in it through `ip netns exec` (which execs,
 * so the pid is QEMU's own).
 *
 * @module
 */
import { join } from "node:path";
import { guestKernel, hostQemuAccel, requireQemu } from "./_guest_vm.ts";

export const HOST_IP = "10.99.0.1";
export const GUEST_IP = "10.99.0.10";
const enc = new TextEncoder();

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

/** Fails (never skips) naming the package of each missing tool: qemu, ip, curl and `extra`. */
export async function requireTools(extra: [string, string][] = []): Promise<void> {
  await requireQemu();
  for (const [tool, pkg] of [["ip", "iproute2"], ["curl", "curl"], ...extra]) {
    const ok = await sh(["sh", "-c", `command -v ${tool}`], false);
    if (ok.code !== 0) throw new Error(`${tool} missing: apt-get install -y ${pkg}`);
  }
}

/** A network namespace with bridge br0 (`hostCidr`) and tap0 enslaved to it. */
export class TestNetns {
  readonly name = `vnet${Deno.pid}x${Math.floor(Math.random() * 1e6)}`;
  constructor(readonly hostCidr = `${HOST_IP}/24`) {}
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
  /** GET from inside the namespace: [status, body] (status 0 = no answer). */
  async get(url: string, maxS = 10): Promise<[number, string]> {
    const r = await this.exec(
      ["curl", "-s", "-m", String(maxS), "-w", "\n%{http_code}", url],
      false,
    );
    const cut = r.out.lastIndexOf("\n");
    return [Number(r.out.slice(cut + 1)) || 0, r.out.slice(0, cut)];
  }
  async delete(): Promise<void> {
    await sh(["ip", "netns", "del", this.name], false);
  }
}

/** Minimal QMP client: greeting, qmp_capabilities, one command. */
export async function qmp(socket: string, command: string): Promise<void> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  try {
    const reader = conn.readable.getReader();
    let buf = "";
    const dec = new TextDecoder();
    const readReply = async () => {
      for (;;) {
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          const line = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if ("return" in line || "error" in line || "QMP" in line) return line;
          continue; // an event
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("QMP socket closed");
        buf += dec.decode(value);
      }
    };
    await readReply();
    await conn.write(enc.encode(JSON.stringify({ execute: "qmp_capabilities" }) + "\n"));
    await readReply();
    await conn.write(enc.encode(JSON.stringify({ execute: command }) + "\n"));
    const reply = await readReply();
    if (reply.error) throw new Error(`QMP ${command}: ${JSON.stringify(reply.error)}`);
    reader.releaseLock();
  } finally {
    conn.close();
  }
}

export interface NetVmOptions {
  initrd: string;
  disks: { path: string; readonly?: boolean; format?: "raw" | "qcow2" }[];
  append: string;
  /** The NIC's MAC (QEMU's default when absent). */
  mac?: string;
  memMiB?: number;
}

/** QEMU microvm inside the namespace, with its serial log and a QMP socket in `dir`. */
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
    const nic = o.mac ? `virtio-net-device,netdev=n0,mac=${o.mac}` : "virtio-net-device,netdev=n0";
    const args = [
      ...["netns", "exec", ns.name, "qemu-system-x86_64"],
      ...["-M", "microvm", ...accel.qemuArgs, "-smp", "1", "-m", `${o.memMiB ?? 512}M`],
      ...["-no-reboot", "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none"],
      ...["-kernel", kernel, "-initrd", o.initrd],
      "-append",
      ["console=ttyS0 panic=-1 reboot=t", ...accel.kernelArgs, o.append].join(" "),
      ...["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no", "-device", nic],
      ...["-object", "rng-random,id=rng0,filename=/dev/urandom"],
      ...["-device", "virtio-rng-device,rng=rng0"],
      "-chardev",
      `socket,id=ser0,path=${join(dir, "serial.sock")},server=on,wait=off,logfile=${
        join(dir, "serial.log")
      }`,
      ...["-serial", "chardev:ser0", "-qmp", `unix:${join(dir, "qmp.sock")},server=on,wait=off`],
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
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async waitExit(timeoutMs: number): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const s = await Promise.race([
      this.status,
      new Promise<null>((r) => timer = setTimeout(() => r(null), timeoutMs)),
    ]);
    clearTimeout(timer);
    if (!s) {
      throw new Error(
        `QEMU still running after ${timeoutMs} ms:\n${(await this.console()).slice(-2000)}`,
      );
    }
    return s.code;
  }

  async kill(): Promise<void> {
    if (!this.exited) this.child.kill("SIGKILL");
    await this.status;
    await this.child.stderr.cancel().catch((e) => {
      if (!(e instanceof TypeError)) throw e; // already read for an error message
    });
  }
}

/** Boots `b` in a fresh namespace, runs `body`, always cleans up VM, namespace and dir. */
export async function withNetVm(
  b: NetVmOptions,
  body: (vm: NetVm, ns: TestNetns) => Promise<void>,
): Promise<void> {
  await requireTools([["mke2fs", "e2fsprogs"]]);
  const ns = new TestNetns();
  const dir = await Deno.makeTempDir({ prefix: "volant-netvm-" });
  await ns.create();
  try {
    const vm = await NetVm.start(ns, dir, b);
    try {
      await body(vm, ns);
    } finally {
      await vm.kill();
    }
  } finally {
    await ns.delete();
    await Deno.remove(dir, { recursive: true });
  }
}
