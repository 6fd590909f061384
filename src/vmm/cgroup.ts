/**
 * Per-VM cgroups for jailed VMMs: cpu, memory and pids limits derived from
 * the VM's resources. cgroup v2 when the host's v2 hierarchy has the cpu,
 * memory and pids controllers; else v1 when those controllers are mounted
 * (as on hosts that mount them at /sys/fs/cgroup/{cpu,memory,pids}).
 * The VMM joins before it execs (see jail.ts), so guest memory is charged
 * from the first page.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { exists } from "../shared/fs.ts";

/** The controllers a jail needs. */
const CONTROLLERS = ["cpu", "memory", "pids"] as const;

/** Where this host keeps cgroups, or why it has none we can use. */
export type CgroupHost =
  | { version: 2; root: string }
  | { version: 1; roots: Record<(typeof CONTROLLERS)[number], string> };

/** The limits of one VM's cgroup. */
export interface CgroupLimits {
  /** CFS quota per 100 ms period, in microseconds. */
  cpuQuotaUs: number;
  memoryBytes: number;
  pids: number;
}

/** CFS period used for the quota. */
export const CPU_PERIOD_US = 100_000;
/**
 * Default memory a VMM may use beyond guest RAM (device model, TCG code
 * cache, I/O buffers); config `vmm_memory_overhead_mb`. Measured under TCG:
 * QEMU's own anonymous memory is ~35 MiB over a fully touched 256 MiB guest
 * (busybox guest), more with a JIT-heavy guest as the TCG code cache grows.
 */
export const VMM_OVERHEAD_MB = 320;

/**
 * Limits for a VM: the vCPUs plus one core for the device model and I/O
 * threads; guest RAM plus the VMM's overhead, swap included (v1 memsw, v2
 * swap.max 0); room for vCPU threads and QEMU's worker pool, no fork bomb.
 */
export function limitsFor(
  spec: { cpus: number; memoryMb: number },
  overheadMb = VMM_OVERHEAD_MB,
): CgroupLimits {
  return {
    cpuQuotaUs: (spec.cpus + 1) * CPU_PERIOD_US,
    memoryBytes: (spec.memoryMb + overheadMb) * 1024 * 1024,
    pids: 128 + 2 * spec.cpus,
  };
}

interface Mount {
  path: string;
  type: string;
  options: string[];
}

async function mounts(): Promise<Mount[]> {
  const text = await Deno.readTextFile("/proc/self/mounts");
  return text.trim().split("\n").map((l) => {
    const f = l.split(" ");
    return { path: f[1].replaceAll("\\040", " "), type: f[2], options: f[3].split(",") };
  });
}

/** The usable hierarchy, or a reason naming what the host lacks. */
export async function detectCgroups(): Promise<CgroupHost | { reason: string }> {
  const all = await mounts();
  for (const m of all.filter((m) => m.type === "cgroup2")) {
    try {
      const have = (await Deno.readTextFile(`${m.path}/cgroup.controllers`)).trim().split(/\s+/);
      if (CONTROLLERS.every((c) => have.includes(c))) return { version: 2, root: m.path };
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const roots: Partial<Record<(typeof CONTROLLERS)[number], string>> = {};
  for (const m of all.filter((m) => m.type === "cgroup")) {
    for (const c of CONTROLLERS) if (m.options.includes(c)) roots[c] ??= m.path;
  }
  const missing = CONTROLLERS.filter((c) => !roots[c]);
  if (missing.length === 0) {
    return { version: 1, roots: roots as Record<(typeof CONTROLLERS)[number], string> };
  }
  return {
    reason: `no cgroup hierarchy with the ${missing.join(", ")} controller(s) ` +
      "(mount cgroup2 with cpu, memory, pids, or the v1 controllers)",
  };
}

/**
 * How long a busy cgroup may take to empty after its VMM's exit was seen
 * before removing it is a conflict: threads of a big QEMU exit after its
 * leader, and pidfd/`/proc` report the leader.
 */
export const CGROUP_SETTLE_MS = 5_000;

/** Directory of all Volant VM cgroups under each hierarchy, for the default runtime dir. */
export const CGROUP_PARENT = "volant";

/**
 * The parent cgroup of one daemon's VMs: `volant` for the default runtime
 * root, `volant-<hash>` for any other, so daemons with their own runtime dirs
 * (tests, side-by-side installs) never share a VM's cgroup by name.
 */
export function cgroupParentFor(runtimeRoot: string, defaultRoot: string): string {
  if (runtimeRoot === defaultRoot) return CGROUP_PARENT;
  let h = 0x811c9dc5; // FNV-1a: short and stable, not a security boundary
  for (const c of new TextEncoder().encode(runtimeRoot)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return `${CGROUP_PARENT}-${h.toString(16).padStart(8, "0")}`;
}

async function write(path: string, value: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, value);
  } catch (e) {
    throw new VolantError("upstream", `cannot write ${value} to ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

async function mkdirp(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true });
}

/** The cgroup directories of VM `name` (one per v1 controller, one for v2). */
export function cgroupDirs(host: CgroupHost, parent: string, name: string): string[] {
  return host.version === 2
    ? [`${host.root}/${parent}/${name}`]
    : CONTROLLERS.map((c) => `${host.roots[c]}/${parent}/${name}`);
}

/**
 * Creates (or resets) VM `name`'s cgroup with `limits`; returns the
 * cgroup.procs files the VMM must join. A populated cgroup of the same name
 * means a VMM still runs there: that is a conflict, not something to reuse.
 */
export async function createVmCgroup(
  host: CgroupHost,
  group: { parent: string; name: string },
  limits: CgroupLimits,
): Promise<string[]> {
  const name = group.name;
  await removeVmCgroup(host, group, CGROUP_SETTLE_MS);
  if (host.version === 2) {
    const parent = `${host.root}/${group.parent}`;
    await mkdirp(parent);
    // Controllers must be delegated at each level down to the VM's group.
    await write(`${host.root}/cgroup.subtree_control`, "+cpu +memory +pids");
    await write(`${parent}/cgroup.subtree_control`, "+cpu +memory +pids");
    const dir = `${parent}/${name}`;
    await mkdirp(dir);
    await write(`${dir}/cpu.max`, `${limits.cpuQuotaUs} ${CPU_PERIOD_US}`);
    await write(`${dir}/memory.max`, String(limits.memoryBytes));
    if (await exists(`${dir}/memory.swap.max`)) await write(`${dir}/memory.swap.max`, "0");
    await write(`${dir}/pids.max`, String(limits.pids));
    return [`${dir}/cgroup.procs`];
  }
  const [cpu, memory, pids] = cgroupDirs(host, group.parent, name);
  for (const d of [cpu, memory, pids]) await mkdirp(d);
  await write(`${cpu}/cpu.cfs_period_us`, String(CPU_PERIOD_US));
  await write(`${cpu}/cpu.cfs_quota_us`, String(limits.cpuQuotaUs));
  await write(`${memory}/memory.limit_in_bytes`, String(limits.memoryBytes));
  // memsw must be >= the memory limit, so it is set after it; absent without swap accounting.
  if (await exists(`${memory}/memory.memsw.limit_in_bytes`)) {
    await write(`${memory}/memory.memsw.limit_in_bytes`, String(limits.memoryBytes));
  }
  await write(`${pids}/pids.max`, String(limits.pids));
  return [cpu, memory, pids].map((d) => `${d}/cgroup.procs`);
}

/**
 * How many processes the kernel's OOM killer has killed in VM `name`'s
 * cgroup because it hit its memory limit (v1 `memory.oom_control`, v2
 * `memory.events`), or null when the cgroup is gone or the kernel does not
 * count (v1 before Linux 4.13).
 */
export async function oomKills(
  host: CgroupHost,
  { parent, name }: { parent: string; name: string },
): Promise<number | null> {
  const file = host.version === 2
    ? `${host.root}/${parent}/${name}/memory.events`
    : `${host.roots.memory}/${parent}/${name}/memory.oom_control`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * Removes VM `name`'s cgroup; a cgroup with processes left in it is a
 * conflict. A VMM that has just exited can still hold its cgroup for a
 * moment (its threads finish exiting after the leader's exit is seen), so a
 * busy cgroup is retried for up to `settleMs` before it is a conflict.
 */
export async function removeVmCgroup(
  host: CgroupHost,
  { parent, name }: { parent: string; name: string },
  settleMs = 0,
): Promise<void> {
  const deadline = Date.now() + settleMs;
  for (const dir of cgroupDirs(host, parent, name)) {
    while (!(await removeDir(dir))) {
      if (Date.now() >= deadline) {
        throw new VolantError(
          "conflict",
          `cgroup ${dir} still holds processes: a VMM of ${name} is running`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    // The parent goes with its last VM; while other VMs live in it, it stays (EBUSY).
    try {
      await Deno.remove(parentDir(dir));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound || isBusy(e))) throw e;
    }
  }
}

/** Removes one cgroup directory: true when gone, false while it is busy. */
async function removeDir(dir: string): Promise<boolean> {
  try {
    await Deno.remove(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return true;
    if (isBusy(e)) return false;
    throw e;
  }
  return true;
}

function isBusy(e: unknown): boolean {
  return e instanceof Deno.errors.Busy || /busy/i.test((e as Error).message);
}

function parentDir(p: string): string {
  return p.slice(0, p.lastIndexOf("/"));
}
