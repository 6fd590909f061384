import { deepStrictEqual as assertEquals, ok, throws } from "node:assert/strict";
import { isVolantError } from "../../errors.ts";
import type { VmSpec } from "../../service/ports.ts";
import { buildChArgs, buildChRestoreArgs } from "./args.ts";

/**
 * Cloud Hypervisor's own option lists at the version we claim (v53.0), written
 * down from its source, so a key it does not know fails here, not on a KVM host.
 * Flags: cloud-hypervisor/src/main.rs `Arg::new(..)`; values: the
 * `OptionParser::add` lists in vmm/src/config.rs (`CpusConfig`, `MemoryConfig`,
 * `DiskConfig`, `NetConfig`, `VsockConfig`, `CommonConsoleConfig`,
 * `PciDeviceCommonConfig::OPTIONS_IOMMU`) and main.rs (`--api-socket`,
 * `--event-monitor`: path|fd).
 */
const UPSTREAM = {
  repo: "cloud-hypervisor/cloud-hypervisor",
  tag: "v53.0",
  commit: "9ed824d6d08df3e96f7d5f50795d9449ac99f431",
  flags: [
    "api-socket",
    "balloon",
    "cmdline",
    "console",
    "cpus",
    "dbus-object-path",
    "dbus-service-name",
    "dbus-system-bus",
    "debug-console",
    "device",
    "disk",
    "event-monitor",
    "firmware",
    "fs",
    "fw-cfg-config",
    "gdb",
    "generic-vhost-user",
    "igvm",
    "host-data",
    "initramfs",
    "ivshmem",
    "kernel",
    "landlock",
    "landlock-rules",
    "log-file",
    "log-format",
    "memory",
    "memory-zone",
    "net",
    "no-shutdown",
    "numa",
    "pci-segment",
    "platform",
    "pmem",
    "pvmemcontrol",
    "pvpanic",
    "rate-limit-group",
    "restore",
    "rng",
    "rtc",
    "seccomp",
    "serial",
    "tpm",
    "user-device",
    "v",
    "vdpa",
    "version",
    "vsock",
    "watchdog",
  ],
  /** `.num_args(0)` flags (SetTrue). */
  valueless: [
    "dbus-system-bus",
    "landlock",
    "no-shutdown",
    "pvmemcontrol",
    "pvpanic",
    "version",
    "watchdog",
  ],
  /** `.num_args(1..)`: several values after one flag. */
  multiValue: [
    "device",
    "disk",
    "fs",
    "generic-vhost-user",
    "landlock-rules",
    "memory-zone",
    "net",
    "numa",
    "pci-segment",
    "pmem",
    "rate-limit-group",
    "user-device",
    "vdpa",
  ],
  /** key=value options per flag (valueless keys listed under `bare`). */
  options: {
    "api-socket": { keys: ["path", "fd"], bare: [] },
    "event-monitor": { keys: ["path", "fd"], bare: [] },
    cpus: {
      keys: [
        "boot",
        "max",
        "topology",
        "kvm_hyperv",
        "max_phys_bits",
        "affinity",
        "features",
        "nested",
        "core_scheduling",
        "profile",
      ],
      bare: [],
    },
    memory: {
      keys: [
        "size",
        "file",
        "mergeable",
        "hotplug_method",
        "hotplug_size",
        "hotplugged_size",
        "shared",
        "hugepages",
        "hugepage_size",
        "prefault",
        "reserve",
        "thp",
      ],
      bare: [],
    },
    // DeviceConfig::SYNTAX; the keys every release since v28 has (volantd passes only path).
    device: { keys: ["path", "iommu", "id", "pci_segment"], bare: [] },
    disk: {
      keys: [
        "path",
        "readonly",
        "direct",
        "queue_size",
        "num_queues",
        "vhost_user",
        "socket",
        "bw_size",
        "bw_one_time_burst",
        "bw_refill_time",
        "ops_size",
        "ops_one_time_burst",
        "ops_refill_time",
        "_disable_io_uring",
        "_disable_aio",
        "serial",
        "rate_limit_group",
        "queue_affinity",
        "backing_files",
        "sparse",
        "image_type",
        "lock_granularity",
        "id",
        "iommu",
        "pci_segment",
        "pci_device_id",
      ],
      bare: [],
    },
    net: {
      keys: [
        "tap",
        "ip",
        "mask",
        "mac",
        "host_mac",
        "offload_tso",
        "offload_ufo",
        "offload_csum",
        "mtu",
        "queue_size",
        "num_queues",
        "vhost_user",
        "socket",
        "vhost_mode",
        "fd",
        "bw_size",
        "bw_one_time_burst",
        "bw_refill_time",
        "ops_size",
        "ops_one_time_burst",
        "ops_refill_time",
        "id",
        "iommu",
        "pci_segment",
        "pci_device_id",
      ],
      bare: [],
    },
    vsock: { keys: ["socket", "cid", "id", "iommu", "pci_segment", "pci_device_id"], bare: [] },
    /** main.rs `Arg::new("seccomp")`: `value_parser(["true", "false", "log"])`, default "true". */
    seccomp: { keys: [], bare: ["true", "false", "log"] },
    serial: {
      keys: ["file", "socket", "id", "iommu", "pci_segment", "pci_device_id"],
      bare: ["off", "pty", "tty", "null"],
    },
    console: {
      keys: ["file", "socket", "id", "iommu", "pci_segment", "pci_device_id"],
      bare: ["off", "pty", "tty", "null"],
    },
  } as Record<string, { keys: string[]; bare: string[] }>,
  /** Free-form single values. */
  freeForm: ["kernel", "initramfs", "cmdline"],
  /** `image_type=` values (block/src/lib.rs `ImageType` FromStr). */
  imageTypes: ["raw", "qcow2", "vhd", "vhdx"],
} as const;

/** Splits argv into flag -> list of value lists (one list per occurrence). */
function occurrences(argv: string[]): Map<string, string[][]> {
  const out = new Map<string, string[][]>();
  let current: string[] | null = null;
  for (const a of argv.slice(1)) {
    if (a.startsWith("--")) {
      const name = a.slice(2);
      current = [];
      out.set(name, [...(out.get(name) ?? []), current]);
    } else {
      ok(current, `value ${a} before any flag`);
      current.push(a);
    }
  }
  return out;
}

/** Asserts every flag and option key of `argv` exists upstream, with the right arity. */
function assertUpstreamKnows(argv: string[]) {
  for (const [flag, uses] of occurrences(argv)) {
    ok(
      (UPSTREAM.flags as readonly string[]).includes(flag),
      `--${flag} unknown at ${UPSTREAM.tag}`,
    );
    // Once each: a repeated flag needs clap's Append (v52+; v51.0 refuses it).
    assertEquals(uses.length, 1, `--${flag} given ${uses.length} times`);
    const values = uses[0];
    if ((UPSTREAM.valueless as readonly string[]).includes(flag)) {
      assertEquals(values.length, 0, `--${flag} takes no value`);
      continue;
    }
    ok(values.length >= 1, `--${flag} needs a value`);
    if (!(UPSTREAM.multiValue as readonly string[]).includes(flag)) {
      assertEquals(values.length, 1, `--${flag} takes one value`);
    }
    if ((UPSTREAM.freeForm as readonly string[]).includes(flag)) continue;
    const opts = UPSTREAM.options[flag];
    ok(opts, `no upstream option list for --${flag}`);
    for (const value of values) {
      for (const part of value.split(",")) {
        const eq = part.indexOf("=");
        if (eq < 0) {
          ok(opts.bare.includes(part), `--${flag} ${part}: not a valueless option upstream`);
          continue;
        }
        const k = part.slice(0, eq);
        ok(opts.keys.includes(k), `--${flag} ${k}= unknown at ${UPSTREAM.tag}`);
        if (k === "image_type") {
          ok((UPSTREAM.imageTypes as readonly string[]).includes(part.slice(eq + 1)), part);
        }
      }
    }
  }
}

const spec: VmSpec = {
  name: "web",
  runtimeDir: "/run/volant/vms/web",
  stateDir: "/var/lib/volant/vms/web",
  kernel: "/var/cache/volant/kernel/current/vmlinux",
  initramfs: "/var/lib/volant/artifacts/sha256/ii",
  disks: [
    { id: "agent", path: "/var/lib/volant/artifacts/sha256/aa", format: "raw", readonly: true },
    {
      id: "rootfs",
      path: "/var/lib/volant/vms/web/rootfs.qcow2",
      format: "qcow2",
      readonly: false,
      backingImage: "/var/lib/volant/artifacts/sha256/bb",
    },
  ],
  cpus: 2,
  memoryMb: 512,
  cmdline: "console=ttyS0 panic=-1 reboot=t volant.ip=192.168.127.10/24",
  machine: "q35",
  net: { tap: "vtap3", mac: "02:01:02:03:04:05" },
  vsock: { cid: 7 },
  serialLogMaxBytes: 1 << 20,
};
const o = {
  binary: "/usr/local/bin/cloud-hypervisor",
  apiSocket: "/run/volant/vms/web/api.sock",
  serialSocket: "/run/volant/vms/web/serial.sock",
  vsockSocket: "/run/volant/vms/web/vsock.sock",
  eventMonitor: "/run/volant/vms/web/events.json",
};

Deno.test("CH argv: flags in order, all disks after one --disk with image_type, event monitor, pvpanic", () => {
  assertEquals(buildChArgs({ ...spec, vsock: undefined }, o), [
    "/usr/local/bin/cloud-hypervisor",
    "--api-socket",
    "path=/run/volant/vms/web/api.sock",
    "--event-monitor",
    "path=/run/volant/vms/web/events.json",
    "--cpus",
    "boot=2",
    "--memory",
    "size=512M",
    "--kernel",
    "/var/cache/volant/kernel/current/vmlinux",
    "--initramfs",
    "/var/lib/volant/artifacts/sha256/ii",
    "--disk",
    "path=/var/lib/volant/artifacts/sha256/aa,readonly=on,image_type=raw",
    "path=/var/lib/volant/vms/web/rootfs.qcow2,readonly=off,image_type=qcow2,backing_files=on",
    "--net",
    "tap=vtap3,mac=02:01:02:03:04:05",
    "--serial",
    "socket=/run/volant/vms/web/serial.sock",
    "--console",
    "off",
    "--pvpanic",
    "--vsock",
    "cid=3,socket=/run/volant/vms/web/vsock.sock",
    "--cmdline",
    "console=ttyS0 panic=-1 reboot=t volant.ip=192.168.127.10/24",
  ]);
});

Deno.test(`CH argv: every flag and option key exists in Cloud Hypervisor ${UPSTREAM.tag}`, () => {
  assertUpstreamKnows(buildChArgs(spec, o));
  assertUpstreamKnows(buildChArgs({ ...spec, disks: [], net: undefined, initramfs: undefined }, o));
  assertUpstreamKnows(buildChRestoreArgs(o));
  assertUpstreamKnows(buildChArgs({ ...spec, pciDevices: ["0000:01:00.0", "0000:02:00.0"] }, o));
  // The check itself catches what it is for.
  throws(() => assertUpstreamKnows(["ch", "--disk", "path=/a,backing=on"]), /backing= unknown/);
  throws(() => assertUpstreamKnows(["ch", "--disk", "path=/a", "--disk", "path=/b"]), /2 times/);
  throws(() => assertUpstreamKnows(["ch", "--no-reboot"]), /unknown at v53.0/);
  throws(() => assertUpstreamKnows(["ch", "--pvpanic", "on"]), /takes no value/);
});

Deno.test("CH argv: a writable qcow2 overlay always names its image type (backing files kept)", () => {
  const a = buildChArgs(spec, o);
  const disks = a.slice(a.indexOf("--disk") + 1, a.indexOf("--net"));
  assertEquals(disks.length, 2);
  for (const d of disks) ok(/,image_type=(raw|qcow2)(,|$)/.test(d), d);
  // backing_files only where there is a backing image.
  assertEquals(disks.map((d) => d.includes("backing_files=on")), [false, true]);
});

Deno.test("CH argv: --vsock always (the agent channel); no --net, --initramfs or --disk when absent", () => {
  const a = buildChArgs({ ...spec, net: undefined, initramfs: undefined, disks: [] }, o);
  assertEquals(a.includes("--net"), false);
  assertEquals(a.includes("--initramfs"), false);
  assertEquals(a.includes("--disk"), false);
  assertEquals(a[a.indexOf("--vsock") + 1], "cid=7,socket=/run/volant/vms/web/vsock.sock");
  // A bridged VM (no vsock in the spec) still gets the device, for kestrel's channel.
  const bridged = buildChArgs({ ...spec, vsock: undefined }, o);
  assertEquals(
    bridged[bridged.indexOf("--vsock") + 1],
    "cid=3,socket=/run/volant/vms/web/vsock.sock",
  );
});

Deno.test("CH restore argv: only the API socket and the event monitor (an empty VMM)", () => {
  assertEquals(buildChRestoreArgs(o), [
    "/usr/local/bin/cloud-hypervisor",
    "--api-socket",
    "path=/run/volant/vms/web/api.sock",
    "--event-monitor",
    "path=/run/volant/vms/web/events.json",
  ]);
});

Deno.test("CH argv: a comma in a path is refused naming the field", () => {
  throws(
    () =>
      buildChArgs({
        ...spec,
        disks: [{ id: "d", path: "/x,readonly=off", format: "raw", readonly: true }],
      }, o),
    (e) => isVolantError(e, "invalid_input") && e.problems[0].field === "disks[0].path",
  );
});

Deno.test("CH argv under the jail: the TAP as fd 3, CH's seccomp filter asked for explicitly", () => {
  const a = buildChArgs(spec, { ...o, tapFd: 3, seccomp: true });
  assertEquals(a[a.indexOf("--net") + 1], "fd=3,mac=02:01:02:03:04:05");
  assertEquals(a.slice(a.indexOf("--seccomp"), a.indexOf("--seccomp") + 2), ["--seccomp", "true"]);
  ok(!a.some((x) => x.includes("tap=")), "no TAP name: CH cannot open /dev/net/tun in the jail");
  assertUpstreamKnows(a);
  // The command line stays the plain one without the jail.
  ok(!buildChArgs(spec, o).includes("--seccomp"));
});
