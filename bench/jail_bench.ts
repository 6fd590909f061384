/**
 * The VMM jail's cost: `volar vms create` -> healthy, with the jail (default)
 * and without (`--jail=false`), in one run. Two volantd, each in a network
 * namespace of its own, boot the static-http example in alternation so load
 * drift on the shared host hits both sides alike. Target: jailed/unjailed
 * median <= 1.05.
 *
 * Run: `deno run -A bench/jail_bench.ts [rounds]` (as root; default 4 rounds).
 *
 * @module
 */
import { prepareHost } from "../scripts/journey/prepare.ts";
import { Sandbox } from "../scripts/journey/sandbox.ts";
import { Jail, resolveJail } from "../src/vmm/jail.ts";
import type { VmSpec } from "../src/service/ports.ts";

const ROUNDS = Number(Deno.args[0] ?? 4);
const TARGET = 1.05;

interface Vm {
  state: string;
  health: string;
}

async function createHealthyMs(sb: Sandbox, name: string): Promise<number> {
  const t0 = performance.now();
  const r = await sb.volar(["vms", "create", name, "--plugin", "static-http"]);
  if (r.code !== 0) throw new Error(`create ${name}: ${r.stderr}`);
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    const vm = await sb.volarJson<Vm>(["vms", "show", name]);
    if (vm.state === "running" && vm.health === "healthy") return performance.now() - t0;
    if (vm.state === "crashed") break;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`${name} did not become healthy; see ${sb.daemonLog}`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function installExample(sb: Sandbox): Promise<void> {
  await sb.installExample();
}

/**
 * The jail wrapper alone, per spawn: setpriv only vs. unshare + private root
 * + setpriv, each exec'ing /usr/bin/true (no cgroup, no VM), medians of `n`.
 */
export async function wrapperMs(n: number): Promise<{ plain: number; root: number }> {
  const tmp = await Deno.makeTempDir({ prefix: "volant-jb-wrap-" });
  try {
    const { jail } = await resolveJail({
      enabled: true,
      user: "65534:65534",
      vmmBinary: "/usr/bin/true",
      rootMount: `${tmp}/mnt`,
    });
    if (!jail?.root) throw new Error("no private root on this host");
    const spec = {
      name: "w",
      runtimeDir: `${tmp}/run`,
      kernel: `${tmp}/k`,
      disks: [],
      cpus: 1,
      memoryMb: 64,
    } as unknown as VmSpec;
    await Deno.mkdir(spec.runtimeDir);
    await Deno.writeTextFile(spec.kernel, "k");
    const time = async (j: Jail) => {
      const { wrapper } = await j.spawnFor(spec, "unused");
      const ms: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const out = await new Deno.Command(wrapper[0], {
          args: [...wrapper.slice(1), "/usr/bin/true"],
          stdout: "null",
          stderr: "piped",
        }).output();
        if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
        ms.push(performance.now() - t0);
      }
      return median(ms);
    };
    const args = [jail.user, jail.uid, jail.gid, null, jail.setpriv, jail.sh] as const;
    return { plain: await time(new Jail(...args)), root: await time(new Jail(...args, jail.root)) };
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

async function main(): Promise<void> {
  if (Deno.uid() !== 0) throw new Error("jail_bench needs root (netns, TAP, cgroups)");
  const wrap = await wrapperMs(20);
  console.log(
    `jail wrapper per spawn: setpriv only ${wrap.plain.toFixed(1)} ms, ` +
      `with the private root ${wrap.root.toFixed(1)} ms (+${
        (wrap.root - wrap.plain).toFixed(1)
      } ms)`,
  );
  const artifacts = await prepareHost();
  const jailed = await Sandbox.create({ artifacts, prefix: "volant-jb", keepSys: true });
  let open: Sandbox | null = null;
  try {
    open = await Sandbox.create({ artifacts, prefix: "volant-ob", keepSys: true });
    const sides = [["jailed", jailed], ["unjailed", open]] as const;
    await jailed.startDaemon();
    // A boolean key has no false flag: the unjailed daemon gets VOLANT_JAIL=false.
    Deno.env.set("VOLANT_JAIL", "false");
    try {
      await open.startDaemon();
    } finally {
      Deno.env.delete("VOLANT_JAIL");
    }
    for (const [, sb] of sides) await installExample(sb);
    const times: Record<string, number[]> = { jailed: [], unjailed: [] };
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate which side goes first, so neither always boots on a warmer host.
      const order = i % 2 === 0 ? sides : [sides[1], sides[0]] as const;
      for (const [label, sb] of order) {
        const ms = await createHealthyMs(sb, `b${i}`);
        times[label].push(ms);
        console.log(`round ${i + 1} ${label}: create -> healthy ${ms.toFixed(0)} ms`);
        const d = await sb.volar(["vms", "delete", `b${i}`]);
        if (d.code !== 0) throw new Error(`delete: ${d.stderr}`);
      }
    }
    const j = median(times.jailed);
    const u = median(times.unjailed);
    const ratio = j / u;
    console.log(`median jailed ${j.toFixed(0)} ms, unjailed ${u.toFixed(0)} ms`);
    console.log(
      `ratio ${ratio.toFixed(3)} (target <= ${TARGET}): ${ratio <= TARGET ? "met" : "MISSED"}`,
    );
    console.log(
      "BENCH_JSON " + JSON.stringify({
        bench: "jail",
        rounds: ROUNDS,
        jailed_ms: times.jailed.map(Math.round),
        unjailed_ms: times.unjailed.map(Math.round),
        median_jailed_ms: Math.round(j),
        median_unjailed_ms: Math.round(u),
        ratio: Number(ratio.toFixed(3)),
        wrapper_setpriv_ms: Number(wrap.plain.toFixed(1)),
        wrapper_private_root_ms: Number(wrap.root.toFixed(1)),
        target: TARGET,
        met: ratio <= TARGET,
      }),
    );
  } finally {
    await open?.close();
    await jailed.close();
  }
}

if (import.meta.main) await main();
