/**
 * The minimal test guest for driver tests and the benchmark: our kernel plus a
 * tiny initramfs (static busybox + a shell /init). The init prints
 * `VOLANT_TEST_READY`, lists its disks, echoes console lines back, powers off
 * on the ACPI power button (a `dd` of one input_event from /dev/input/event*:
 * no C helper needed), and on `volant_test=poweroff` / `volant_test=panic`
 * powers off or dies on its own (crash detection); `volant_test=spam` prints
 * ~25 KB (serial log cap test); `volant_test=net` puts 10.99.0.2/24 on eth0,
 * prints its MAC and pings 10.99.0.1 (the host end of the TAP).
 *
 * @module
 */

/** Lines the guest prints on its serial console. */
export const GUEST_LINES = {
  ready: "VOLANT_TEST_READY",
  disks: "VOLANT_TEST_DISKS",
  powerButton: "VOLANT_TEST_POWER_BUTTON",
  poweroff: "VOLANT_TEST_POWEROFF",
  echo: "VOLANT_TEST_ECHO",
  spamDone: "VOLANT_TEST_SPAM_DONE",
  net: "VOLANT_TEST_NET",
  pingOk: "VOLANT_TEST_PING_OK",
} as const;

const INIT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec 0</dev/console 1>/dev/console 2>&1
# Arm the power-button watchers first: evdev drops events nobody has open.
for ev in /dev/input/event*; do
  [ -e "$ev" ] || continue
  ( dd if="$ev" of=/dev/null bs=24 count=1 2>/dev/null
    echo "${GUEST_LINES.powerButton}"; sync; poweroff -f ) &
done
echo "${GUEST_LINES.ready} uptime=$(cut -d' ' -f1 /proc/uptime)"
echo "${GUEST_LINES.disks} $(ls /sys/block | grep '^vd' | tr '\\n' ' ')"
case " $(cat /proc/cmdline) " in
  *" volant_test=poweroff "*) echo "${GUEST_LINES.poweroff}"; poweroff -f ;;
  *" volant_test=panic "*) echo "init exiting on purpose"; exit 1 ;;
  *" volant_test=spam "*)
    i=0
    while [ $i -lt 300 ]; do
      echo "spam line $i ................................................................"
      i=$((i + 1))
    done
    echo "${GUEST_LINES.spamDone}" ;;
  *" volant_test=net "*)
    ip link set eth0 up && ip addr add 10.99.0.2/24 dev eth0
    echo "${GUEST_LINES.net} mac=$(cat /sys/class/net/eth0/address)"
    if ping -c 3 -W 3 10.99.0.1 >/dev/null; then echo "${GUEST_LINES.pingOk}"; fi ;;
esac
while read -r line; do echo "${GUEST_LINES.echo} $line"; done
while true; do sleep 3600; done
`;

/** Kernel, initramfs and base cmdline for a test boot. */
export interface TestGuest {
  kernel: string;
  initramfs: string;
  /** Base cmdline without the driver's extra args. */
  cmdline: string;
  dir: string;
}

/** Our guest kernel: $VOLANT_KERNEL, else the kernel build cache. Fails saying how to build it. */
export async function findTestKernel(): Promise<string> {
  const env = Deno.env.get("VOLANT_KERNEL");
  const cache = Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant";
  const candidates = env
    ? [env]
    : [`${cache}/kernel/current/vmlinux`, `${cache}/kernel/current/bzImage`];
  for (const c of candidates) {
    try {
      if ((await Deno.stat(c)).isFile) return c;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  throw new Error(
    `no guest kernel at ${candidates.join(" or ")}: build it with \`deno task kernel\` ` +
      "(bash kernel/build.sh) or set VOLANT_KERNEL",
  );
}

async function run(cmd: string, args: string[], cwd?: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output()
    .catch((e) => {
      throw new Error(`${cmd} failed to run (${e}): apt-get install busybox-static cpio`);
    });
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Builds the test initramfs (uncompressed newc cpio) in a fresh temp dir.
 * `kernel` overrides the kernel lookup (the CH contract fake only needs an ELF).
 */
export async function buildTestGuest(opts: { kernel?: string } = {}): Promise<TestGuest> {
  const kernel = opts.kernel ?? await findTestKernel();
  const busybox = "/bin/busybox";
  const bb = await Deno.readFile(busybox).catch(() => {
    throw new Error(`${busybox} missing: apt-get install busybox-static`);
  });
  const dir = await Deno.makeTempDir({ prefix: "volant-test-guest-" });
  const root = `${dir}/root`;
  for (const d of ["bin", "dev", "proc", "sys", "tmp"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
  }
  await Deno.writeFile(`${root}/bin/busybox`, bb, { mode: 0o755 });
  await Deno.writeTextFile(`${root}/init`, INIT, { mode: 0o755 });
  // /dev/console must exist in the initramfs for init's first stdout (needs root).
  await run("mknod", ["-m", "600", `${root}/dev/console`, "c", "5", "1"]);
  await run("sh", ["-c", `find . | cpio -o -H newc --quiet > ${dir}/initramfs.cpio`], root);
  return {
    kernel,
    initramfs: `${dir}/initramfs.cpio`,
    cmdline: "console=ttyS0 panic=-1 reboot=t",
    dir,
  };
}

/** A small raw disk image (for the overlay and read-only disk paths). */
export async function makeRawImage(path: string, sizeMb = 4): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  await f.truncate(sizeMb * 1024 * 1024);
  f.close();
}
