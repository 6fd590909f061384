/**
 * The same guest booted through the API vs the same qemu command run by hand,
 * alternating in one run: time to the first serial byte and to kestrel's
 * `ready in N ms` line. Target: API/hand <= 1.05 (medians).
 *
 * The guest is the journey's: examples/static-http built by fledge, our
 * kernel, shim and kestrel. volantd runs in a network namespace this bench
 * creates (the Sandbox of the demo). The API arm times `POST
 * /api/v1/vms/bench/start` until the serial log shows the byte / the line. The
 * hand arm runs the exact argv the daemon recorded (vmm.json) from a process
 * already inside the namespace, in a session of its own as the daemon's VMMs
 * are, with the VM's TAP made beforehand, as a person would after setting up
 * the network. Both arms poll the same serial log file the same way. The root
 * namespace is never touched.
 *
 *   deno run -A bench/vmm_bench.ts            (VOLANT_BENCH_ROUNDS, default 9)
 *
 * Needs root, the guest kernel and agent image (prepared here, cached).
 */
import { prepareHost } from "../scripts/journey/prepare.ts";
import { Sandbox } from "../scripts/journey/sandbox.ts";

const READY = /kestrel: ready in \d+ ms/;
const TIMEOUT_MS = 180_000;
const VM = "bench";
const TARGET = 1.05;

interface Sample {
  firstByteMs: number;
  readyMs: number;
}

/** Polls the serial log from `t0` every 2 ms, reading only what is new (the same for both arms). */
async function watchLog(path: string, t0: number): Promise<Sample> {
  let firstByteMs = -1;
  let text = "";
  let file: Deno.FsFile | null = null;
  const buf = new Uint8Array(64 * 1024);
  const dec = new TextDecoder();
  const deadline = t0 + TIMEOUT_MS;
  try {
    while (performance.now() < deadline) {
      if (!file) {
        try {
          file = await Deno.open(path);
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      }
      const n = file ? await file.read(buf) : null;
      if (n) {
        if (firstByteMs < 0) firstByteMs = performance.now() - t0;
        // Keep a tail long enough to hold the ready line across two reads.
        text = (text + dec.decode(buf.subarray(0, n), { stream: true })).slice(-4096);
        if (READY.test(text)) return { firstByteMs, readyMs: performance.now() - t0 };
        continue;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    file?.close();
  }
  throw new Error(`no ready line in ${path} after ${TIMEOUT_MS} ms`);
}

/** Hand mode (run inside the namespace): spawn the argv, time it, kill it, print JSON. */
async function handRun(argvFile: string, serialLog: string): Promise<void> {
  const argv = JSON.parse(await Deno.readTextFile(argvFile)) as string[];
  // Let this fresh runtime's own start-up work settle first, so it does not compete with QEMU.
  await new Promise((r) => setTimeout(r, 300));
  const t0 = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    console.log(JSON.stringify(await watchLog(serialLog, t0)));
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function api(socket: string, method: string, path: string, body?: unknown) {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  try {
    const res = await fetch(`http://volantd/api/v1${path}`, {
      method,
      client,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status}: ${text}`);
    return JSON.parse(text);
  } finally {
    client.close();
  }
}

async function main(): Promise<void> {
  const rounds = Number(Deno.env.get("VOLANT_BENCH_ROUNDS") ?? 9);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error(
      `vmm_bench: VOLANT_BENCH_ROUNDS must be a positive integer, got ` +
        Deno.env.get("VOLANT_BENCH_ROUNDS"),
    );
    Deno.exit(2);
  }
  const artifacts = await prepareHost();
  const sb = await Sandbox.create({ artifacts, prefix: "volant-vmmbench" });
  try {
    await sb.startDaemon();
    await sb.installExample();
    const vm = await api(sb.socket, "POST", "/vms", {
      name: VM,
      plugin: "static-http",
      start: false,
    });
    const runDir = `${sb.runtimeDir}/${VM}`;
    const serialLog = `${runDir}/serial.log`;
    const argvFile = `${sb.dir}/hand-argv.json`;
    const clearLog = () => Deno.remove(serialLog).catch(() => {});

    const viaApi = async (): Promise<Sample> => {
      await clearLog();
      const t0 = performance.now();
      await api(sb.socket, "POST", `/vms/${VM}/start`);
      try {
        const s = await watchLog(serialLog, t0);
        // The daemon's own record of what it ran: the hand arm's command.
        const identity = JSON.parse(await Deno.readTextFile(`${runDir}/vmm.json`));
        await Deno.writeTextFile(argvFile, JSON.stringify(identity.argv));
        return s;
      } finally {
        await api(sb.socket, "POST", `/vms/${VM}/stop?grace_ms=0`);
      }
    };

    const byHand = async (): Promise<Sample> => {
      // Set up as a person would before running the command: the TAP on the bridge, the dir.
      const tap = [
        ["ip", "tuntap", "add", vm.tap, "mode", "tap", "vnet_hdr"],
        ["ip", "link", "set", vm.tap, "master", "vbr0", "up"],
      ];
      for (const cmd of tap) {
        const r = await sb.inNetns(cmd);
        if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
      }
      await Deno.mkdir(runDir, { recursive: true });
      for (const f of ["qmp.sock", "serial.sock"]) {
        await Deno.remove(`${runDir}/${f}`).catch(() => {});
      }
      await clearLog();
      try {
        // In a session of its own, as the daemon's VMMs are (autogroup scheduling: one CPU share
        // per session), not in this process's session next to the daemon.
        const r = await sb.inNetns([
          "setsid",
          "--wait",
          Deno.execPath(),
          "run",
          "-A",
          new URL(import.meta.url).pathname,
          "--hand",
          argvFile,
          serialLog,
        ]);
        if (r.code !== 0) throw new Error(`hand run failed: ${r.stderr}`);
        return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      } finally {
        await sb.inNetns(["ip", "link", "del", vm.tap]);
      }
    };

    await viaApi(); // warm-up; also records the argv for the hand arm
    const drv: Sample[] = [];
    const hand: Sample[] = [];
    for (let i = 0; i < rounds; i++) {
      // ABBA order: a drift in host load over the run hits both arms alike.
      const order = i % 2 === 0 ? [viaApi, byHand] : [byHand, viaApi];
      const out: Sample[] = [];
      for (const run of order) out.push(await run());
      const [a, h] = i % 2 === 0 ? out : [out[1], out[0]];
      drv.push(a);
      hand.push(h);
      console.log(
        `round ${i + 1}/${rounds} (first byte/ready): API ${a.firstByteMs.toFixed(0)}/` +
          `${a.readyMs.toFixed(0)} ms | by hand ${h.firstByteMs.toFixed(0)}/${
            h.readyMs.toFixed(0)
          } ms`,
      );
    }
    const med = (xs: Sample[], k: keyof Sample) => Math.round(median(xs.map((s) => s[k])));
    const ratio = (a: number, b: number) => Number((a / b).toFixed(3));
    const r = {
      rounds,
      api_first_byte_ms: med(drv, "firstByteMs"),
      api_ready_ms: med(drv, "readyMs"),
      hand_first_byte_ms: med(hand, "firstByteMs"),
      hand_ready_ms: med(hand, "readyMs"),
      first_byte_ratio: 0,
      ready_ratio: 0,
      paired_first_byte_ratio: ratio(
        median(drv.map((s, k) => s.firstByteMs / hand[k].firstByteMs)),
        1,
      ),
      paired_ready_ratio: ratio(median(drv.map((s, k) => s.readyMs / hand[k].readyMs)), 1),
      target_ratio: TARGET,
      met: false,
    };
    r.first_byte_ratio = ratio(r.api_first_byte_ms, r.hand_first_byte_ms);
    r.ready_ratio = ratio(r.api_ready_ms, r.hand_ready_ms);
    r.met = r.first_byte_ratio <= TARGET && r.ready_ratio <= TARGET;
    const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
    console.log(
      `medians of ${rounds}: first serial byte: API ${r.api_first_byte_ms} ms, by hand ` +
        `${r.hand_first_byte_ms} ms (ratio ${r.first_byte_ratio}); ready line: API ` +
        `${r.api_ready_ms} ms, by hand ${r.hand_ready_ms} ms (ratio ${r.ready_ratio}); ` +
        `target <= ${TARGET}: ${r.met ? "met" : "NOT met"}; load average ${load}`,
    );
    console.log(
      `median of per-round ratios: first byte ${r.paired_first_byte_ratio}, ready ${r.paired_ready_ratio}`,
    );
    console.log(`BENCH_JSON ${JSON.stringify({ vmm: r })}`);
  } finally {
    await sb.close();
  }
}

if (Deno.args[0] === "--hand") {
  await handRun(Deno.args[1], Deno.args[2]);
} else {
  await main();
}
