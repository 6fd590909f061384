/**
 * TAP lifecycle through src/net (FFI: /dev/net/tun ioctls + rtnetlink) versus
 * the same through `ip` subprocesses: create + attach to the bridge + up +
 * delete, 200 TAPs each, in one run, inside a network namespace this bench
 * creates (the measuring runs in a child inside it; the root namespace is
 * never touched). Target: FFI <= 0.2x the time of `ip`.
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
  NetlinkSocket,
  requireLink,
  setLink,
} from "../src/net/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { taps: { type: "string", default: "200" }, inner: { type: "boolean", default: false } },
});
const TAPS = Number(values.taps);
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
  await run("warmup", 5, ffi);
  await run("warmup", 5, viaIp);
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
  const m = {
    ffi: median(times.ffi.total),
    ensure: median(times.ensure.total),
    ip: median(times.ip.total),
  };
  const ratio = m.ffi / m.ip;
  const f = (x: number) => x.toFixed(3);
  const phases = (p: Phases) =>
    Object.entries(p).filter(([k]) => k !== "total").map(([k, v]) => `${k} ${f(median(v))}`)
      .join(", ");
  console.log(`TAP create + attach + up + delete, ${TAPS} TAPs per method, in netns ${ns}`);
  console.log(`  FFI (ioctl + rtnetlink)     median ${f(m.ffi)} ms/TAP  [${phases(times.ffi)}]`);
  console.log(
    `  ensureTap + deleteTap       median ${f(m.ensure)} ms/TAP  [${phases(times.ensure)}]`,
  );
  console.log(`  ip subprocesses (4 per TAP) median ${f(m.ip)} ms/TAP  [${phases(times.ip)}]`);
  console.log(
    `  ratio FFI/ip ${ratio.toFixed(4)}x (target <= ${TARGET}x: ${
      ratio <= TARGET ? "met" : "NOT met"
    }); ensureTap+deleteTap/ip ${(m.ensure / m.ip).toFixed(4)}x`,
  );
  const noDel = median(times.ffi.total.map((t, i) => t - times.ffi.delete[i])) /
    median(times.ip.total.map((t, i) => t - times.ip.delete[i]));
  console.log(
    `  without the delete (kernel unregister, same for both): FFI/ip ${noDel.toFixed(4)}x`,
  );
  console.log(
    "BENCH_JSON " + JSON.stringify({
      bench: "net",
      taps: TAPS,
      ffi_median_ms: Number(f(m.ffi)),
      ensure_median_ms: Number(f(m.ensure)),
      ip_median_ms: Number(f(m.ip)),
      ratio: Number(ratio.toFixed(4)),
      ensure_ratio: Number((m.ensure / m.ip).toFixed(4)),
      ffi_delete_median_ms: Number(f(median(times.ffi.delete))),
      ip_delete_median_ms: Number(f(median(times.ip.delete))),
      ratio_without_delete: Number(noDel.toFixed(4)),
      target_ratio: TARGET,
      met: ratio <= TARGET,
      wall_s: Number(wall.toFixed(2)),
    }),
  );
}
