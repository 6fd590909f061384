/**
 * CONTRACT FAKE of the `cloud-hypervisor` process, for the conformance suite.
 * Cloud Hypervisor needs /dev/kvm, which these machines lack (the KVM suite in
 * tests/kvm/ runs the real one in CI). This program behaves as upstream does
 * (cloud-hypervisor/cloud-hypervisor v53.0 = 9ed824d6d08d), each rule citing
 * the file and line it mirrors:
 *
 * - the command line as clap parses it (cloud-hypervisor/src/main.rs): unknown
 *   flags and a repeated single-value flag are usage errors (exit 2);
 * - the API is served first; only then is the VM config parsed, created and
 *   booted (main.rs l. 734-779), and a failure there exits 1 (l. 796);
 * - disks without `image_type=` are auto-detected and a qcow2 loses
 *   `backing_files` in the persisted config (vmm/src/device_manager.rs
 *   l. 2755-2782), so a reboot or restore of an overlay cannot open it;
 * - the serial socket is bound at VM creation (vmm/src/console_devices.rs
 *   l. 259), serves one client at a time (a new one shuts the previous one:
 *   vmm/src/serial_manager.rs l. 402) and replays output buffered while no
 *   client was connected (l. 152-165; 1 MiB, serial_buffer/src/lib.rs l. 11);
 * - the hybrid vsock socket (fake_hybrid_vsock.ts) is bound at creation and,
 *   like the API and serial sockets, removed only on a clean exit: SIGKILL
 *   leaves all three behind;
 * - a guest reset reboots the VM in place (vmm/src/lib.rs l. 2088, 2427-2428),
 *   writing `vm rebooting` to the event monitor (pretty JSON + blank line,
 *   vmm/src/lib.rs l. 434); the test guest's `volant_test=panic` does that in
 *   a loop, as `panic=-1` does under Cloud Hypervisor;
 * - without `--kernel` the VMM has no VM until vm.restore (fake_ch_api.ts).
 *
 * It plays the test guest of guest_fixture.ts (same lines, echo, power button,
 * kestrel's agent channel on vsock port 1024: fake_guest_agent.ts) and refuses a kernel that is neither an ELF vmlinux nor a bzImage. It proves
 * the driver's contract, not Cloud Hypervisor itself.
 *
 * @module
 */
import { FakeChApi, serveFakeChApi } from "./fake_ch_api.ts";
import { echoService, FAKE_GUEST_ECHO_PORT, FakeHybridVsock } from "./fake_hybrid_vsock.ts";
import { GUEST_LINES } from "./guest_fixture.ts";
import { fakeAgentService } from "./fake_guest_agent.ts";
import { AGENT_VSOCK_PORT } from "../../manifest/cmdline.ts";

/** Writes an executable `cloud-hypervisor` wrapper that runs this fake; returns its path. */
export async function writeFakeChBinary(dir: string): Promise<string> {
  const path = `${dir}/cloud-hypervisor`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nexec ${Deno.execPath()} run -A --no-prompt ${import.meta.filename} "$@"\n`,
    { mode: 0o755 },
  );
  return path;
}

/** The flags this fake knows (a subset of main.rs); everything else is refused like clap does. */
const VALUELESS = new Set(["--pvpanic"]);
const MULTI = new Set(["--disk", "--net"]); // num_args(1..) + ArgAction::Append (v52+)
const SINGLE = new Set([
  "--api-socket",
  "--event-monitor",
  "--cpus",
  "--memory",
  "--kernel",
  "--initramfs",
  "--serial",
  "--console",
  "--cmdline",
  "--vsock",
]);

/**
 * How long the fake guest's "kernel" takes to reach init. Long enough that a
 * booting process which exits right after `boot()` (the conformance suite's
 * "daemon died" case) is gone before the first line: output CH hands to a
 * client that dies before reading it is lost, as upstream's would be.
 */
const GUEST_BOOT_MS = 1000;

function usage(msg: string): never {
  console.error(`error: ${msg}`);
  Deno.exit(2); // clap's usage-error exit code
}

function fail(msg: string): never {
  console.error(`Error booting VM: ${msg}`);
  Deno.exit(1);
}

function parseArgv(args: string[]): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  let i = 0;
  while (i < args.length) {
    const flag = args[i++];
    if (!VALUELESS.has(flag) && !MULTI.has(flag) && !SINGLE.has(flag)) {
      usage(`unexpected argument '${flag}' found`);
    }
    const values: string[] = [];
    while (i < args.length && !args[i].startsWith("--")) values.push(args[i++]);
    if (VALUELESS.has(flag) && values.length) {
      usage(`unexpected value '${values[0]}' for '${flag}'`);
    }
    if (!VALUELESS.has(flag) && values.length === 0) usage(`a value is required for '${flag}'`);
    if (SINGLE.has(flag) && (values.length > 1 || seen.has(flag))) {
      usage(`the argument '${flag}' cannot be used multiple times`);
    }
    seen.set(flag, [...(seen.get(flag) ?? []), ...values]);
  }
  return seen;
}

/** OptionParser: `k=v,k=v` with a fixed key list (vmm/src/config.rs). */
function kv(value: string, flag: string, keys: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(",")) {
    const eq = part.indexOf("=");
    const k = eq < 0 ? part : part.slice(0, eq);
    if (!keys.includes(k)) usage(`${flag}: unknown option ${k}`);
    out[k] = eq < 0 ? "" : part.slice(eq + 1);
  }
  return out;
}

const DISK_KEYS = ["path", "readonly", "image_type", "backing_files", "direct", "id"];

/** A disk image's type and whether it names a backing file (qcow2 header: magic, offset 8). */
async function probeImage(path: string): Promise<{ type: "raw" | "qcow2"; backing: boolean }> {
  const head = new Uint8Array(16);
  const f = await Deno.open(path);
  try {
    await f.read(head);
  } finally {
    f.close();
  }
  const qcow = head[0] === 0x51 && head[1] === 0x46 && head[2] === 0x49 && head[3] === 0xfb;
  const backing = qcow && new DataView(head.buffer).getBigUint64(8) !== 0n;
  return { type: qcow ? "qcow2" : "raw", backing };
}

interface DiskConfig {
  path: string;
  readonly: boolean;
  image_type: "raw" | "qcow2" | "Unknown";
  backing_files: boolean;
}

/** Opens the disks as DeviceManager::make_virtio_block_device does; returns the persisted config. */
async function openDisks(disks: DiskConfig[]): Promise<DiskConfig[]> {
  const out: DiskConfig[] = [];
  for (const d of disks) {
    const probe = await probeImage(d.path).catch((e) => fail(`Disk(${d.path}: ${e})`));
    // Opening a qcow2 whose backing file is not allowed fails (block/src/qcow).
    if (probe.backing && !d.backing_files) fail(`Disk(BackingFilesDisabled: ${d.path})`);
    const cfg = { ...d };
    if (d.image_type === "Unknown") {
      // device_manager.rs l. 2755-2782: detected type persisted; qcow2 loses backing_files.
      if (probe.type === "qcow2" && cfg.backing_files) cfg.backing_files = false;
      cfg.image_type = probe.type;
    } else if (d.image_type !== probe.type) {
      fail(`DiskImageTypeMismatch { specified: ${d.image_type}, detected: ${probe.type} }`);
    }
    out.push(cfg);
  }
  return out;
}

async function isKernel(path: string): Promise<boolean> {
  const f = await Deno.open(path);
  try {
    const head = new Uint8Array(0x206);
    const n = (await f.read(head)) ?? 0;
    const elf = n >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c &&
      head[3] === 0x46;
    const bz = n >= 0x206 && new TextDecoder().decode(head.subarray(0x202, 0x206)) === "HdrS";
    return elf || bz;
  } finally {
    f.close();
  }
}

/** The VM config as the fake keeps it (and writes into a snapshot's config.json). */
interface FakeVmConfig {
  payload: { kernel: string; initramfs?: string; cmdline: string };
  disks: DiskConfig[];
  serial: { mode: "Socket"; socket: string };
  vsock?: { cid: number; socket: string };
  pvpanic: boolean;
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** The serial port on a socket: one client, a 1 MiB replay buffer while none is connected. */
class SerialConsole {
  readonly #listener: Deno.UnixListener;
  #client: Deno.UnixConn | null = null;
  #buffer: Uint8Array[] = [];
  #buffered = 0;

  constructor(readonly path: string, private onLine: (line: string) => void) {
    // Bound at VM creation; an existing file fails the bind (console_devices.rs l. 259).
    this.#listener = Deno.listen({ transport: "unix", path });
    this.#accept();
  }

  print(line: string): void {
    const bytes = new TextEncoder().encode(line + "\r\n");
    if (this.#client) {
      this.#client.write(bytes).catch(() => this.#detach());
      return;
    }
    this.#buffer.push(bytes);
    this.#buffered += bytes.length;
    while (this.#buffered > 1 << 20) this.#buffered -= this.#buffer.shift()!.length;
  }

  close(removeSocket: boolean): void {
    try {
      this.#listener.close();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
    this.#client?.close();
    if (removeSocket) removeQuietly(this.path);
  }

  #detach(): void {
    this.#client = null;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        // A new client shuts the previous one down (serial_manager.rs l. 402).
        if (this.#client) {
          try {
            this.#client.close();
          } catch (e) {
            if (!(e instanceof Deno.errors.BadResource)) throw e;
          }
        }
        this.#client = conn;
        // Replay what was printed while nobody listened (serial_manager.rs l. 160-165).
        const replay = this.#buffer;
        this.#buffer = [];
        this.#buffered = 0;
        for (const b of replay) await conn.write(b).catch(() => this.#detach());
        this.#read(conn);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
  }

  async #read(conn: Deno.UnixConn): Promise<void> {
    const buf = new Uint8Array(1024);
    let pending = "";
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      pending += new TextDecoder().decode(buf.subarray(0, n));
      let nl;
      while ((nl = pending.search(/\r|\n/)) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line) this.onLine(line);
      }
    }
    if (this.#client === conn) this.#detach();
  }
}

/** The event monitor file: truncated at start (main.rs l. 681), one pretty JSON + blank line each. */
function eventMonitor(path: string | undefined): (source: string, event: string) => void {
  if (!path) return () => {};
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  const start = performance.now();
  return (source, event) => {
    const ms = performance.now() - start;
    const e = {
      timestamp: { secs: Math.floor(ms / 1000), nanos: Math.floor((ms % 1000) * 1e6) },
      source,
      event,
      properties: null,
    };
    const bytes = new TextEncoder().encode(JSON.stringify(e, null, 2) + "\n\n");
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
  };
}

async function main(args: string[]) {
  const seen = parseArgv(args);
  const apiArg = seen.get("--api-socket")?.[0] ?? usage("--api-socket path= is needed here");
  const apiPath = kv(apiArg, "--api-socket", ["path", "fd"]).path ?? usage("--api-socket path=");
  const monitorArg = seen.get("--event-monitor")?.[0];
  const event = eventMonitor(
    monitorArg ? kv(monitorArg, "--event-monitor", ["path", "fd"]).path : undefined,
  );

  let vm: { serial: SerialConsole; vsock?: FakeHybridVsock; config: FakeVmConfig } | null = null;
  let guestTimer: ReturnType<typeof setTimeout> | undefined;
  let pendingPowerButton = false;
  const print = (line: string) => vm?.serial.print(line);
  const exitClean = () => {
    // A clean exit removes the sockets (main.rs l. 957, serial_manager.rs Drop, vsock/device.rs l. 516).
    vm?.serial.close(true);
    vm?.vsock?.close(true);
    removeQuietly(apiPath);
    Deno.exit(0);
  };
  const powerOff = (line: string) => {
    print(line);
    setTimeout(exitClean, 50);
  };

  const api = new FakeChApi({
    onPowerButton: () => {
      if (api.vm === "Running") powerOff(GUEST_LINES.powerButton);
      else pendingPowerButton = true; // latched until the guest runs again
    },
    onVmmShutdown: exitClean,
    onVmShutdown: () => {
      clearTimeout(guestTimer);
      vm?.serial.close(true);
      vm?.vsock?.close(true);
      vm = null;
    },
    onRestore: (config) => {
      createDevices(config as unknown as FakeVmConfig);
    },
    onStateChange: (state) => {
      if (state === "Running" && pendingPowerButton) powerOff(GUEST_LINES.powerButton);
    },
    onEvent: event,
  });

  const createDevices = (config: FakeVmConfig) => {
    const serial = new SerialConsole(config.serial.socket, (line) => {
      if (api.vm === "Running") print(`${GUEST_LINES.echo} ${line}`);
    });
    let vsock: FakeHybridVsock | undefined;
    if (config.vsock) {
      try {
        vsock = new FakeHybridVsock(config.vsock.socket);
      } catch (e) {
        serial.close(true);
        throw new Error(`Cannot create virtio-vsock backend: ${e}`);
      }
      vsock.listen(FAKE_GUEST_ECHO_PORT, echoService);
      // kestrel's agent channel (fake_guest_agent.ts).
      vsock.listen(AGENT_VSOCK_PORT, fakeAgentService((line) => serial.print(line)));
    }
    vm = { serial, vsock, config };
  };

  // The guest: boot lines, then what its cmdline asks for.
  const bootGuest = (config: FakeVmConfig) => {
    const cmdline = ` ${config.payload.cmdline} `;
    guestTimer = setTimeout(async () => {
      print(`${GUEST_LINES.ready} uptime=0.10`);
      print(`${GUEST_LINES.disks} ${config.disks.map((_, i) => `vd${"abcdefgh"[i]}`).join(" ")} `);
      if (cmdline.includes(" volant_test=poweroff ")) powerOff(GUEST_LINES.poweroff);
      if (cmdline.includes(" volant_test=panic ")) {
        print("init exiting on purpose");
        print("Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100");
        print("Rebooting in 1 seconds..");
        await reboot(config);
      }
    }, GUEST_BOOT_MS);
  };

  // vmm/src/lib.rs l. 2088 + vm_reboot (l. 2427): the VM is rebuilt from its persisted config.
  const reboot = async (config: FakeVmConfig) => {
    event("vm", "rebooting");
    config.disks = await openDisks(config.disks);
    event("vm", "rebooted");
    bootGuest(config);
  };

  // main.rs l. 681: the event monitor first; then the API thread (l. 734, mod.rs l. 453: a stale
  // socket is removed under the API lock before the bind).
  event("vmm", "starting");
  removeQuietly(apiPath);
  serveFakeChApi(apiPath, api);

  const kernel = seen.get("--kernel")?.[0];
  if (!kernel) return; // an empty VMM: waits for vm.restore

  // After the API is up: parse the config, create the VM, boot it (main.rs l. 766-779).
  // VOLANT_FAKE_CH_CREATE_DELAY_MS widens the window for tests (default 150 ms).
  const delay = Number(Deno.env.get("VOLANT_FAKE_CH_CREATE_DELAY_MS") ?? 150);
  await new Promise((r) => setTimeout(r, delay));
  for (const f of ["--cpus", "--memory", "--serial", "--cmdline"]) {
    if (!seen.get(f)) usage(`${f} missing (the fake needs it)`);
  }
  const serialPath = kv(seen.get("--serial")![0], "--serial", ["socket", "file", "off"]).socket ??
    usage("--serial socket= expected");
  if (!/^boot=\d+$/.test(seen.get("--cpus")![0])) usage("--cpus boot=<n>");
  if (!/^size=\d+M$/.test(seen.get("--memory")![0])) usage("--memory size=<n>M");
  if (seen.get("--console")?.[0] !== "off") usage("--console off expected");
  const disks: DiskConfig[] = (seen.get("--disk") ?? []).map((d) => {
    const o = kv(d, "--disk", DISK_KEYS);
    if (!o.path) usage("--disk path=");
    const type = o.image_type ?? "Unknown";
    if (!["raw", "qcow2", "Unknown"].includes(type)) usage(`--disk image_type=${type}`);
    return {
      path: o.path,
      readonly: o.readonly === "on",
      image_type: type as DiskConfig["image_type"],
      backing_files: o.backing_files === "on",
    };
  });
  const vsockArg = seen.get("--vsock")?.[0];
  const vsockKv = vsockArg ? kv(vsockArg, "--vsock", ["cid", "socket", "id"]) : undefined;
  if (!(await Deno.stat(kernel).catch(() => null))) fail(`--kernel ${kernel}: no such file`);
  if (!(await isKernel(kernel))) fail("VmBoot(KernelLoad(InvalidElfMagicNumber))");
  const config: FakeVmConfig = {
    payload: {
      kernel,
      initramfs: seen.get("--initramfs")?.[0],
      cmdline: seen.get("--cmdline")![0],
    },
    disks: await openDisks(disks),
    serial: { mode: "Socket", socket: serialPath },
    vsock: vsockKv ? { cid: Number(vsockKv.cid), socket: vsockKv.socket } : undefined,
    pvpanic: seen.has("--pvpanic"),
  };
  try {
    createDevices(config);
  } catch (e) {
    fail(`VmCreate(DeviceManager(${e instanceof Error ? e.message : e}))`);
  }
  api.createAndBoot(config as unknown as Record<string, unknown>);
  bootGuest(config);
}

if (import.meta.main) await main(Deno.args);
