/**
 * TAP lifecycle through src/net (FFI: /dev/net/tun ioctls + rtnetlink) versus
 * the same through `ip` subprocesses: create + attach to the bridge + up +
 * delete, 200 TAPs each, in one run, inside a network namespace this bench
 * creates (the measuring runs in a child inside it; the root namespace is
 * never touched). Target: FFI <= 0.2x the time of `ip`.
 *
 * Two shapes, both printed:
 * - batch (the target): 200 TAPs created, attached and brought up one by one,
 *   then all deleted at once: FFI with `deleteLinks` (one RTM_DELLINK of a
 *   device group), `ip` with `ip link del group` (its `link set` puts each TAP
 *   in the group in the same command as master and up, so ip pays no extra
 *   process for it).
 * - one at a time (a VM start then stop): each TAP deleted alone. The kernel
 *   spends ~15 ms per unregister waiting for RCU, the same for both, so this
 *   ratio cannot go below ~0.38 whatever the userspace cost.
 *
 * Run: deno run -A bench/net_bench.ts [--taps 200]
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  bridgeMac,
  createBridge,
  createHostNetwork,
  createTap,
  deleteLink,
  deleteLinks,
  NetlinkSocket,
  requireLink,
  setLink,
} from "../src/net/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { taps: { type: "string", default: "200" }, inner: { type: "boolean", default: false } },
});
const TAPS = Number(values.taps);
if (!Number.isInteger(TAPS) || TAPS < 1 || TAPS > 10_000) {
  console.error(`net_bench: --taps must be an integer 1-10000, got ${values.taps}`);
  Deno.exit(2);
}
const TARGET = 0.2;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

type Phases = Record<string, number[]>;

/** Runs inside the namespace: per-TAP milliseconds, in total and by phase, for each method. */
async function measure(): Promise<Record<string, Phases>> {
  const nl = NetlinkSocket.open();
  createBridge(nl, { name: "vbr0", mac: bridgeMac("vbr0") });
  setLink(nl, "vbr0", { up: true });
  const bridge = requireLink(nl, "vbr0").index;
  const hn = createHostNetwork();
  const out: Record<string, Phases> = {};
  /** Each step is timed as a phase; a TAP's total is the sum of its phases. */
  const run = async (key: string, n: number, steps: [string, (name: string) => unknown][]) => {
    const ph: Phases = { total: [] };
    for (let i = 0; i < n; i++) {
      const name = `vtap${i}`;
      let total = 0;
      for (const [phase, fn] of steps) {
        const t0 = performance.now();
        await fn(name);
        const dt = performance.now() - t0;
        (ph[phase] ??= []).push(dt);
        total += dt;
      }
      ph.total.push(total);
    }
    out[key] = ph;
  };
  const ffi: [string, (name: string) => unknown][] = [
    ["create", (name) => createTap(name)],
    ["attach+up", (name) => setLink(nl, name, { master: bridge, up: true })],
    ["delete", (name) => deleteLink(nl, name)],
  ];
  const ensure: [string, (name: string) => unknown][] = [
    ["ensureTap", (name) => hn.ensureTap({ name, bridge: "vbr0" })],
    ["deleteTap", (name) => hn.deleteTap(name)],
  ];
  const viaIp: [string, (name: string) => unknown][] = [
    ["create", (name) => ip("tuntap", "add", name, "mode", "tap", "vnet_hdr")],
    ["attach", (name) => ip("link", "set", name, "master", "vbr0")],
    ["up", (name) => ip("link", "set", name, "up")],
    ["delete", (name) => ip("link", "del", name)],
  ];
  const GROUP = 4242;
  const names = (n: number) => [...Array(n).keys()].map((i) => `vtap${i}`);
  /** One batch: per-TAP setup phases, then one delete of all, spread over the TAPs. */
  const batch = async (
    key: string,
    n: number,
    steps: [string, (name: string) => unknown][],
    deleteAll: (names: string[]) => unknown,
  ) => {
    await run(key, n, steps);
    const t0 = performance.now();
    await deleteAll(names(n));
    const each = (performance.now() - t0) / n;
    out[key]["delete all"] = names(n).map(() => each);
    out[key].total = out[key].total.map((t) => t + each);
  };
  await run("warmup", 5, ffi);
  await run("warmup", 5, viaIp);
  await batch(
    "ffi_batch",
    TAPS,
    [["create", (name) => createTap(name)], ffi[1]],
    (all) => deleteLinks(nl, all),
  );
  await batch("ip_batch", TAPS, [
    viaIp[0],
    [
      "attach+up+group",
      (name) => ip("link", "set", name, "master", "vbr0", "up", "group", String(GROUP)),
    ],
  ], () => ip("link", "del", "group", String(GROUP)));
  await run("ffi", TAPS, ffi);
  await run("ensure", TAPS, ensure);
  await run("ip", TAPS, viaIp);
  delete out.warmup;
  deleteLink(nl, "vbr0");
  nl.close();
  return out;
}

if (values.inner) {
  console.log(JSON.stringify(await measure()));
} else {
  const ns = `vbench${Deno.pid}`;
  await ip("netns", "add", ns);
  let times: Record<string, Phases>;
  const wall0 = performance.now();
  try {
    const out = await new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        ns,
        Deno.execPath(),
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        "--inner",
        "--taps",
        String(TAPS),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`inner bench failed (exit ${out.code})`);
    times = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  } finally {
    await ip("netns", "del", ns);
  }
  const wall = (performance.now() - wall0) / 1000;
  const med = (k: string) => median(times[k].total);
  const sum = (k: string) => times[k].total.reduce((a, b) => a + b, 0);
  const batchRatio = sum("ffi_batch") / sum("ip_batch");
  const serialRatio = med("ffi") / med("ip");
  const f = (x: number) => x.toFixed(3);
  const phases = (p: Phases) =>
    Object.entries(p).filter(([k]) => k !== "total").map(([k, v]) => `${k} ${f(median(v))}`)
      .join(", ");
  const noDel = median(times.ffi.total.map((t, i) => t - times.ffi.delete[i])) /
    median(times.ip.total.map((t, i) => t - times.ip.delete[i]));
  console.log(`TAP create + attach + up + delete, ${TAPS} TAPs per method, in netns ${ns}`);
  console.log(`batch (${TAPS} set up one by one, then deleted at once):`);
  console.log(
    `  FFI + deleteLinks           median ${f(med("ffi_batch"))} ms/TAP, all ${
      f(sum("ffi_batch"))
    } ms  [${phases(times.ffi_batch)}]`,
  );
  console.log(
    `  ip (2 per TAP + 1)          median ${f(med("ip_batch"))} ms/TAP, all ${
      f(sum("ip_batch"))
    } ms  [${phases(times.ip_batch)}]`,
  );
  console.log(
    `  ratio FFI/ip ${batchRatio.toFixed(4)}x (target <= ${TARGET}x: ${
      batchRatio <= TARGET ? "met" : "NOT met"
    })`,
  );
  console.log("one at a time (each TAP deleted alone, as a VM stop does):");
  console.log(
    `  FFI (ioctl + rtnetlink)     median ${f(med("ffi"))} ms/TAP  [${phases(times.ffi)}]`,
  );
  console.log(
    `  ensureTap + deleteTap       median ${f(med("ensure"))} ms/TAP  [${phases(times.ensure)}]`,
  );
  console.log(`  ip subprocesses (4 per TAP) median ${f(med("ip"))} ms/TAP  [${phases(times.ip)}]`);
  console.log(
    `  ratio FFI/ip ${serialRatio.toFixed(4)}x; without the delete (kernel unregister, the same ` +
      `for both) ${noDel.toFixed(4)}x`,
  );
  console.log(
    "BENCH_JSON " + JSON.stringify({
      bench: "net",
      taps: TAPS,
      ratio: Number(batchRatio.toFixed(4)),
      batch_ffi_median_ms: Number(f(med("ffi_batch"))),
      batch_ip_median_ms: Number(f(med("ip_batch"))),
      batch_ffi_total_ms: Number(f(sum("ffi_batch"))),
      batch_ip_total_ms: Number(f(sum("ip_batch"))),
      serial_ratio: Number(serialRatio.toFixed(4)),
      ffi_median_ms: Number(f(med("ffi"))),
      ensure_median_ms: Number(f(med("ensure"))),
      ip_median_ms: Number(f(med("ip"))),
      ensure_ratio: Number((med("ensure") / med("ip")).toFixed(4)),
      ffi_delete_median_ms: Number(f(median(times.ffi.delete))),
      ip_delete_median_ms: Number(f(median(times.ip.delete))),
      serial_ratio_without_delete: Number(noDel.toFixed(4)),
      target_ratio: TARGET,
      met: batchRatio <= TARGET,
      wall_s: Number(wall.toFixed(2)),
    }),
  );
}
