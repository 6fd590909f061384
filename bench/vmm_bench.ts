/**
 * The same test guest booted through the QEMU driver vs the same qemu argv run
 * by hand, alternating in one run: time to the first serial byte and to the
 * guest's ready line. Target: driver/hand <= 1.05 (medians).
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

async function viaDriver(i: number): Promise<Sample> {
  const spec = specFor(`drv-${i}`);
  const t0 = performance.now();
  const proc = await driver.boot(spec);
  try {
    return await watchLog(proc.serialLog, t0);
  } finally {
    await driver.kill(proc);
    await driver.destroy(spec);
  }
}

async function byHand(i: number): Promise<Sample> {
  const spec = specFor(`hand-${i}`);
  // The driver's exact argv, run directly with the runtime dir made by hand.
  const argv = await driver.argvFor(spec);
  await Deno.mkdir(spec.runtimeDir, { recursive: true });
  const t0 = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
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
try {
  for (let i = 0; i < rounds; i++) {
    // Alternate the order so host load drifts hit both sides alike.
    if (i % 2 === 0) {
      drv.push(await viaDriver(i));
      hand.push(await byHand(i));
    } else {
      hand.push(await byHand(i));
      drv.push(await viaDriver(i));
    }
    console.log(
      `round ${i + 1}/${rounds}: driver first byte ${drv[i].firstByteMs.toFixed(0)} ms, ready ` +
        `${drv[i].readyMs.toFixed(0)} ms | by hand first byte ${
          hand[i].firstByteMs.toFixed(0)
        } ms, ` +
        `ready ${hand[i].readyMs.toFixed(0)} ms`,
    );
  }
} finally {
  await Deno.remove(root, { recursive: true });
  await Deno.remove(guest.dir, { recursive: true });
}

const result = {
  rounds,
  accel: await driver.accel(),
  driver_first_byte_ms: Math.round(median(drv.map((s) => s.firstByteMs))),
  hand_first_byte_ms: Math.round(median(hand.map((s) => s.firstByteMs))),
  driver_ready_ms: Math.round(median(drv.map((s) => s.readyMs))),
  hand_ready_ms: Math.round(median(hand.map((s) => s.readyMs))),
  first_byte_ratio: 0,
  ready_ratio: 0,
  target_ratio: 1.05,
};
result.first_byte_ratio = Number(
  (result.driver_first_byte_ms / result.hand_first_byte_ms).toFixed(3),
);
result.ready_ratio = Number((result.driver_ready_ms / result.hand_ready_ms).toFixed(3));
console.log(
  `medians of ${rounds} (${result.accel}): first serial byte driver ${result.driver_first_byte_ms} ms ` +
    `vs by hand ${result.hand_first_byte_ms} ms (ratio ${result.first_byte_ratio}); ready line ` +
    `driver ${result.driver_ready_ms} ms vs by hand ${result.hand_ready_ms} ms (ratio ${result.ready_ratio}); ` +
    `target <= ${result.target_ratio}`,
);
console.log(`BENCH_JSON ${JSON.stringify({ vmm: result })}`);
