/**
 * The same test guest booted through the QEMU driver vs the same qemu argv run
 * by hand, alternating in one run: time to the first serial byte and to the
 * guest's ready line. Target: driver/hand <= 1.05 (medians).
 *
 * Two by-hand arms: in this process's session (as from a shell), and in its
 * own session (`setsid`, as the driver must, so VMs outlive the daemon). With
 * the kernel's autogroup scheduling each session is one CPU-share group, so on
 * a loaded host the session alone changes guest speed; the setsid arm isolates
 * the driver's own overhead. A fourth, paired measurement starts the driver
 * and the setsid run at the same moment each round, so drifting host load hits
 * both alike (the ratio is the median of per-round ratios).
 *
 *   deno run -A bench/vmm_bench.ts            (VOLANT_BENCH_ROUNDS, default 5)
 *
 * Needs the guest kernel (`deno task kernel`), qemu-system-x86, busybox-static, cpio.
 */
import { QemuDriver } from "../src/vmm/qemu/driver.ts";
import { buildTestGuest, GUEST_LINES } from "../src/vmm/testing/guest_fixture.ts";
import type { VmSpec } from "../src/service/ports.ts";

const rounds = Number(Deno.env.get("VOLANT_BENCH_ROUNDS") ?? 5);
const TIMEOUT_MS = 120_000;

interface Sample {
  firstByteMs: number;
  readyMs: number;
}

/** Polls the serial log (the same way for both sides) from `t0`. */
async function watchLog(path: string, t0: number): Promise<Sample> {
  let firstByteMs = -1;
  const deadline = t0 + TIMEOUT_MS;
  while (performance.now() < deadline) {
    let text = "";
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (firstByteMs < 0 && text.length > 0) firstByteMs = performance.now() - t0;
    if (text.includes(GUEST_LINES.ready)) return { firstByteMs, readyMs: performance.now() - t0 };
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`no ready line in ${path} after ${TIMEOUT_MS} ms`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const guest = await buildTestGuest();
const root = await Deno.makeTempDir({ prefix: "volant-vmm-bench-" });
const driver = new QemuDriver({ runtimeRoot: `${root}/run`, stateRoot: `${root}/state` });
const extra = await driver.extraKernelArgs();
const specFor = (name: string): VmSpec => ({
  name,
  runtimeDir: `${root}/run/${name}`,
  stateDir: `${root}/state/${name}`,
  kernel: guest.kernel,
  initramfs: guest.initramfs,
  disks: [],
  cpus: 1,
  memoryMb: 128,
  cmdline: [guest.cmdline, ...extra].join(" "),
  machine: "microvm",
  serialLogMaxBytes: 1 << 20,
});

/** Driver time before the VMM exists: t0 to the process's start (/proc stat, 10 ms ticks). */
const spawnDelays: number[] = [];

async function uptimeMs(): Promise<number> {
  return Number((await Deno.readTextFile("/proc/uptime")).split(" ")[0]) * 1000;
}

async function viaDriver(i: number, tag = ""): Promise<Sample> {
  const spec = specFor(`drv${tag}-${i}`);
  const up0 = await uptimeMs();
  const t0 = performance.now();
  const proc = await driver.boot(spec);
  spawnDelays.push(Number(proc.startTime) * 10 - up0); // USER_HZ is 100 on Linux x86
  try {
    return await watchLog(proc.serialLog, t0);
  } finally {
    await driver.kill(proc);
    await driver.destroy(spec);
  }
}

async function byHand(i: number, ownSession: boolean, tag = ""): Promise<Sample> {
  const spec = specFor(`hand${ownSession ? "-setsid" : ""}${tag}-${i}`);
  // The driver's exact argv, run directly with the runtime dir made by hand.
  const argv = await driver.argvFor(spec);
  await Deno.mkdir(spec.runtimeDir, { recursive: true });
  const t0 = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: ownSession,
  }).spawn();
  try {
    return await watchLog(`${spec.runtimeDir}/serial.log`, t0);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await Deno.remove(spec.runtimeDir, { recursive: true });
  }
}

const drv: Sample[] = [];
const hand: Sample[] = [];
const handSetsid: Sample[] = [];
const pairDrv: Sample[] = [];
const pairHand: Sample[] = [];
const arms: [string, Sample[], (i: number) => Promise<Sample>][] = [
  ["driver", drv, viaDriver],
  ["by hand", hand, (i) => byHand(i, false)],
  ["by hand (setsid)", handSetsid, (i) => byHand(i, true)],
];
try {
  for (let i = 0; i < rounds; i++) {
    // Rotate the order so host load drifts hit every arm alike.
    const order = [0, 1, 2].map((k) => arms[(k + i) % 3]);
    const line: string[] = [];
    for (const [label, samples, run] of order) {
      const s = await run(i);
      samples.push(s);
      line.push(`${label} ${s.firstByteMs.toFixed(0)}/${s.readyMs.toFixed(0)} ms`);
    }
    // Paired: the driver and the setsid by-hand run start together, so both see the same load.
    const [pd, ph] = await Promise.all([viaDriver(i, "-pair"), byHand(i, true, "-pair")]);
    pairDrv.push(pd);
    pairHand.push(ph);
    line.push(
      `paired driver ${pd.firstByteMs.toFixed(0)}/${pd.readyMs.toFixed(0)} ms vs setsid ` +
        `${ph.firstByteMs.toFixed(0)}/${ph.readyMs.toFixed(0)} ms`,
    );
    console.log(`round ${i + 1}/${rounds} (first byte/ready): ${line.join(" | ")}`);
  }
} finally {
  await Deno.remove(root, { recursive: true });
  await Deno.remove(guest.dir, { recursive: true });
}

const med = (xs: Sample[], k: keyof Sample) => Math.round(median(xs.map((s) => s[k])));
const ratio = (a: number, b: number) => Number((a / b).toFixed(3));
const result = {
  rounds,
  accel: await driver.accel(),
  driver_first_byte_ms: med(drv, "firstByteMs"),
  driver_ready_ms: med(drv, "readyMs"),
  hand_first_byte_ms: med(hand, "firstByteMs"),
  hand_ready_ms: med(hand, "readyMs"),
  hand_setsid_first_byte_ms: med(handSetsid, "firstByteMs"),
  hand_setsid_ready_ms: med(handSetsid, "readyMs"),
  driver_spawn_delay_ms: Math.round(median(spawnDelays)),
  first_byte_ratio: 0,
  ready_ratio: 0,
  first_byte_ratio_vs_setsid: 0,
  ready_ratio_vs_setsid: 0,
  paired_driver_ready_ms: med(pairDrv, "readyMs"),
  paired_hand_setsid_ready_ms: med(pairHand, "readyMs"),
  paired_first_byte_ratio: ratio(
    median(pairDrv.map((s, k) => s.firstByteMs / pairHand[k].firstByteMs)),
    1,
  ),
  paired_ready_ratio: ratio(median(pairDrv.map((s, k) => s.readyMs / pairHand[k].readyMs)), 1),
  target_ratio: 1.05,
};
result.first_byte_ratio = ratio(result.driver_first_byte_ms, result.hand_first_byte_ms);
result.ready_ratio = ratio(result.driver_ready_ms, result.hand_ready_ms);
result.first_byte_ratio_vs_setsid = ratio(
  result.driver_first_byte_ms,
  result.hand_setsid_first_byte_ms,
);
result.ready_ratio_vs_setsid = ratio(result.driver_ready_ms, result.hand_setsid_ready_ms);
console.log(
  `medians of ${rounds} (${result.accel}): first serial byte: driver ${result.driver_first_byte_ms} ms, ` +
    `by hand ${result.hand_first_byte_ms} ms (ratio ${result.first_byte_ratio}), by hand setsid ` +
    `${result.hand_setsid_first_byte_ms} ms (ratio ${result.first_byte_ratio_vs_setsid})`,
);
console.log(
  `ready line: driver ${result.driver_ready_ms} ms, by hand ${result.hand_ready_ms} ms (ratio ` +
    `${result.ready_ratio}), by hand setsid ${result.hand_setsid_ready_ms} ms (ratio ` +
    `${result.ready_ratio_vs_setsid}); target <= ${result.target_ratio}; load average ` +
    (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" "),
);
console.log(
  `paired (driver and setsid by hand started together; median of per-round ratios): first byte ` +
    `${result.paired_first_byte_ratio}, ready ${result.paired_ready_ratio}`,
);
console.log(
  `driver overhead before the VMM process exists: ${result.driver_spawn_delay_ms} ms ` +
    "(median; /proc start time has 10 ms resolution)",
);
console.log(`BENCH_JSON ${JSON.stringify({ vmm: result })}`);
