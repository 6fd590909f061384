/**
 * Guest benchmarks, real QEMU boots (the host's accelerator decision: TCG here)
 * with the same kernel in one run:
 *
 * 1. delivery: how kestrel (deno + bundle) reaches the guest. The same
 *    stand-in kestrel, shipped (a) inside a gzip initramfs, (b) inside an
 *    uncompressed initramfs, (c) on the shared read-only ext4 agent image.
 *    Time from QEMU start to its ready line; guest memory in use then.
 * 2. kestrel vs baseline (needs agent/main.ts): the same workload (a script
 *    that starts busybox httpd and prints a ready line once it answers) run by
 *    kestrel from the manifest vs by a busybox /init directly. Ratio of
 *    boot-to-ready, memory in use at ready (target: kestrel <= +40 MiB).
 *
 * Run: deno run -A bench/guest_bench.ts   (RUNS=n, default 3 per variant;
 *      ONLY=delivery | ONLY=kestrel for one section)
 *
 * @module
 */
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type AgentArtifacts, bootEntries, buildAgentArtifacts } from "../scripts/agent_image.ts";
import { type CpioEntry, writeCpio } from "../scripts/cpio_newc.ts";
import { encodeManifest, type PluginManifest } from "../src/manifest/mod.ts";
import { guestKernel, GuestVm, hostQemuAccel, requireQemu } from "../tests/e2e/_guest_vm.ts";
import { exists } from "../src/shared/fs.ts";

const REPO = new URL("../", import.meta.url).pathname;
const CACHE = Deno.env.get("VOLANT_CACHE_DIR") ?? "/var/cache/volant";
const RUNS = Number(Deno.env.get("RUNS") ?? 3);
/** ONLY=delivery or ONLY=kestrel runs one section. */
const ONLY = Deno.env.get("ONLY");
const TIMEOUT_MS = 120_000;
const STAND_IN_READY = /STAND-IN-KESTREL READY pid=\d+ mem_used_kib=(\d+)/;
const WORKLOAD_READY = /WORKLOAD READY mem_used_kib=(\d+)/;
/** kestrel's own line once the health check passed (agent/kestrel.ts). */
const KESTREL_READY = /kestrel: ready in \d+ ms/;

interface Sample {
  ms: number;
  /** QEMU CPU time (user + sys) until ready: less sensitive to other load than wall time. */
  cpuMs: number;
  memKiB: number;
  /** ms from QEMU start to a second console line, when asked for. */
  thenMs?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summary(samples: Sample[]) {
  return {
    ms: Math.round(median(samples.map((s) => s.ms))),
    cpu_ms: Math.round(median(samples.map((s) => s.cpuMs))),
    mem_mib: Math.round(median(samples.map((s) => s.memKiB)) / 102.4) / 10,
    runs: samples.map((s) => Math.round(s.ms)),
  };
}

/** cpio members for a host directory placed under `prefix` in the archive. */
async function dirEntries(root: string, prefix: string): Promise<CpioEntry[]> {
  const out: CpioEntry[] = [];
  for await (const e of Deno.readDir(root)) {
    const p = join(root, e.name);
    const path = `${prefix}/${e.name}`;
    if (e.name === "lost+found") continue;
    if (e.isDirectory) out.push({ path, type: "dir" }, ...await dirEntries(p, path));
    else if (e.isSymlink) out.push({ path, type: "symlink", target: await Deno.readLink(p) });
    else {
      const mode = (await Deno.stat(p)).mode! & 0o7777;
      out.push({ path, type: "file", data: await Deno.readFile(p), mode });
    }
  }
  return out;
}

async function boot(
  kernel: string,
  o: { initrd: string; disks?: { path: string; readonly?: boolean }[]; append?: string },
  ready: RegExp,
  then?: RegExp,
): Promise<Sample> {
  const dir = await Deno.makeTempDir({ prefix: "volant-guest-bench-" });
  const vm = new GuestVm({ kernel, dir, accel: await hostQemuAccel(), ...o });
  try {
    const { match, ms } = await vm.waitFor(ready, TIMEOUT_MS);
    const cpuMs = await vm.cpuMs();
    const thenMs = then ? (await vm.waitFor(then, 30_000)).ms : undefined;
    return { ms, cpuMs, memKiB: Number(match[1]), thenMs };
  } finally {
    await vm.kill();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The agent tree, dumped from the image, inside one initramfs with the shim. */
async function agentInitramfs(a: AgentArtifacts, work: string, gzip: boolean) {
  const tree = join(work, "agent-tree");
  await Deno.mkdir(tree, { recursive: true });
  const dump = await new Deno.Command("debugfs", {
    args: ["-R", `rdump / ${tree}`, a.agentImage],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!dump.success) throw new Error(`debugfs rdump: ${new TextDecoder().decode(dump.stderr)}`);
  const entries = await bootEntries(await Deno.readFile(a.shim));
  entries.push(...await dirEntries(tree, "volant/agent"));
  // The shim prefers /bin/kestrel; the launcher resolves its real path to find deno.
  entries.push({ path: "bin/kestrel", type: "symlink", target: "/volant/agent/kestrel" });
  await Deno.remove(tree, { recursive: true });
  const cpio = writeCpio(entries);
  const path = join(work, gzip ? "agent-initrd.cpio.gz" : "agent-initrd.cpio");
  await Deno.writeFile(path, gzip ? gzipSync(cpio, { level: 6 }) : cpio);
  return { path, bytes: (await Deno.stat(path)).size };
}

/** Identical workload for both guests: httpd, then one ready line with memory in use. */
const WORKLOAD = `#!/bin/sh
mkdir -p /www && echo ok > /www/index.html
httpd -p 80 -h /www
until wget -q -O /dev/null http://127.0.0.1:80/; do usleep 10000; done
echo "WORKLOAD READY mem_used_kib=$(awk '/^MemTotal:/{t=$2} /^MemAvailable:/{a=$2} END{print t-a}' /proc/meminfo)"
exec sleep 100000
`;

const BASELINE_INIT = `#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp
ip link set lo up
exec /usr/bin/bench-workload
`;

async function workloadInitrd(shim: Uint8Array, work: string, baseline: boolean) {
  const enc = new TextEncoder();
  const entries = (await bootEntries(shim)).filter((e) => !(baseline && e.path === "init"));
  entries.push({
    path: "usr/bin/bench-workload",
    type: "file",
    data: enc.encode(WORKLOAD),
    mode: 0o755,
  });
  if (baseline) {
    entries.push({ path: "init", type: "file", data: enc.encode(BASELINE_INIT), mode: 0o755 });
  }
  const path = join(work, baseline ? "baseline.cpio.gz" : "kestrel-plugin.cpio.gz");
  await Deno.writeFile(path, gzipSync(writeCpio(entries), { level: 6 }));
  return path;
}

if (import.meta.main) {
  await requireQemu();
  const kernel = await guestKernel();
  const work = await Deno.makeTempDir({ prefix: "volant-guest-bench-" });
  const result: Record<string, unknown> = { runs_per_variant: RUNS, kernel };
  try {
    if (ONLY !== "kestrel") {
      // 1. delivery
      const standIn = await buildAgentArtifacts({
        kestrel: { kind: "entry", path: join(REPO, "tests/e2e/fixtures/stand_in_kestrel.ts") },
        cacheDir: CACHE,
        setCurrent: false,
        log: () => {},
      });
      const gz = await agentInitramfs(standIn, work, true);
      const raw = await agentInitramfs(standIn, work, false);
      const variants: [string, Parameters<typeof boot>[1]][] = [
        ["agent_image", {
          initrd: standIn.bootInitramfs,
          disks: [{ path: standIn.agentImage, readonly: true }],
        }],
        ["initramfs_gzip", { initrd: gz.path }],
        ["initramfs_raw", { initrd: raw.path }],
      ];
      const samples: Record<string, Sample[]> = {};
      for (let r = 0; r < RUNS; r++) {
        // Rotate the order so host load drifts hit every variant alike.
        for (let i = 0; i < variants.length; i++) {
          const [name, o] = variants[(i + r) % variants.length];
          const s = await boot(kernel, o, STAND_IN_READY);
          (samples[name] ??= []).push(s);
          console.log(
            `delivery ${name} run ${r + 1}: ${Math.round(s.ms)} ms (qemu cpu ${s.cpuMs} ms), ${
              (s.memKiB / 1024).toFixed(1)
            } MiB used`,
          );
        }
      }
      const delivery = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summary(v)]));
      console.log(`\ndelivery (stand-in kestrel = deno + bundle, medians of ${RUNS}):`);
      console.log(
        `  initramfs gzip ${(gz.bytes / 1048576).toFixed(1)} MiB, raw ${
          (raw.bytes / 1048576).toFixed(1)
        } MiB`,
      );
      for (const [k, v] of Object.entries(delivery)) {
        console.log(
          `  ${k.padEnd(16)} ready ${String(v.ms).padStart(6)} ms   qemu cpu ${
            String(v.cpu_ms).padStart(6)
          } ms   mem used ${v.mem_mib} MiB`,
        );
      }
      result.delivery = {
        ...delivery,
        initramfs_gzip_bytes: gz.bytes,
        initramfs_raw_bytes: raw.bytes,
      };
    }

    // 2. kestrel vs baseline
    const main = join(REPO, "agent/main.ts");
    if (ONLY === "delivery") {
      result.kestrel_vs_baseline = null;
    } else if (!(await exists(main))) {
      console.log(`\nkestrel vs baseline: not run, ${main} does not exist yet`);
      result.kestrel_vs_baseline = null;
    } else {
      const agent = await buildAgentArtifacts({
        kestrel: { kind: "entry", path: main },
        cacheDir: CACHE,
        setCurrent: false,
        log: () => {},
      });
      const shim = await Deno.readFile(agent.shim);
      const manifest = await encodeManifest({
        name: "bench",
        version: "1",
        initramfs: { url: "https://example.invalid/bench.cpio.gz" },
        resources: { cpu_cores: 1, memory_mb: 512 },
        workload: {
          type: "http",
          base_url: "http://127.0.0.1:80/",
          entrypoint: ["/usr/bin/bench-workload"],
        },
        health_check: { endpoint: "/" },
      } as PluginManifest);
      const kVariant = {
        initrd: await workloadInitrd(shim, work, false),
        disks: [{ path: agent.agentImage, readonly: true }],
        append: `volant.boot=initramfs volant.hostname=bench volant.manifest=${manifest}`,
      };
      const bVariant = { initrd: await workloadInitrd(shim, work, true) };
      const k: Sample[] = [];
      const b: Sample[] = [];
      for (let r = 0; r < RUNS; r++) {
        const pair: [string, typeof kVariant | typeof bVariant, Sample[], RegExp?][] = [
          ["kestrel", kVariant, k, KESTREL_READY],
          ["baseline", bVariant, b],
        ];
        if (r % 2) pair.reverse();
        for (const [name, o, into, then] of pair) {
          const s = await boot(kernel, o, WORKLOAD_READY, then);
          into.push(s);
          console.log(
            `${name} run ${r + 1}: ${Math.round(s.ms)} ms (qemu cpu ${s.cpuMs} ms), ${
              (s.memKiB / 1024).toFixed(1)
            } MiB used`,
          );
        }
      }
      const ks = {
        ...summary(k),
        kestrel_ready_ms: Math.round(median(k.map((s) => s.thenMs ?? NaN))),
      };
      const bs = summary(b);
      const ratio = Math.round((ks.ms / bs.ms) * 100) / 100;
      const cpuRatio = Math.round((ks.cpu_ms / bs.cpu_ms) * 100) / 100;
      const extra = Math.round((ks.mem_mib - bs.mem_mib) * 10) / 10;
      console.log(
        `\nboot-to-ready (medians of ${RUNS}): kestrel ${ks.ms} ms, baseline ${bs.ms} ms, ` +
          `ratio ${ratio}; kestrel's health-gated ready line at ${ks.kestrel_ready_ms} ms`,
      );
      console.log(
        `qemu cpu to ready: kestrel ${ks.cpu_ms} ms, baseline ${bs.cpu_ms} ms, ratio ${cpuRatio}`,
      );
      console.log(
        `memory in use at ready: kestrel ${ks.mem_mib} MiB, baseline ${bs.mem_mib} MiB, ` +
          `+${extra} MiB (target <= +40 MiB: ${extra <= 40 ? "met" : "NOT met"})`,
      );
      result.kestrel_vs_baseline = {
        kestrel: ks,
        baseline: bs,
        ratio,
        cpu_ratio: cpuRatio,
        extra_mem_mib: extra,
      };
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
  console.log(`BENCH_JSON ${JSON.stringify({ bench: "guest", ...result })}`);
}
