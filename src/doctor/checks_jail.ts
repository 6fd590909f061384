/**
 * The VMM jail's prerequisites on this host (docs/security.md): root,
 * setpriv, cgroups with cpu/memory/pids, mount namespaces with unshare and
 * pivot_root. Read-only: it creates no user and no cgroup (volantd does at
 * start). Not critical: VMs boot without the jail, with less protection.
 *
 * @module
 */
import { detectCgroups } from "../vmm/cgroup.ts";
import { resolveBinary } from "../vmm/spawn.ts";
import type { Check, CheckResult } from "./check.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** What the jail would lack here, one phrase each, with how to get it. */
async function missing(): Promise<{ what: string; fix: string }[]> {
  const out: { what: string; fix: string }[] = [];
  if (!(await resolveBinary("setpriv"))) {
    out.push({ what: "setpriv (no jail at all)", fix: "apt-get install util-linux" });
  }
  const cg = await detectCgroups();
  if ("reason" in cg) {
    out.push({ what: `cgroup limits: ${cg.reason}`, fix: "mount cgroup2 with cpu, memory, pids" });
  }
  const tools = await Promise.all(["unshare", "pivot_root", "umount"].map(resolveBinary));
  if (!(await exists("/proc/self/ns/mnt"))) {
    out.push({ what: "mount namespaces (kernel)", fix: "a kernel with CONFIG_NAMESPACES" });
  } else if (tools.some((t) => t === null)) {
    out.push({
      what: "unshare/pivot_root/umount (private root)",
      fix: "apt-get install util-linux mount",
    });
  }
  return out;
}

export const jailCheck: Check = {
  id: "jail",
  title: "VMM jail",
  critical: false,
  async run(ctx): Promise<CheckResult> {
    if (!ctx.config.jail) {
      return {
        status: "warn",
        detail: "jail = false: VMMs run with the daemon's privileges, no sandbox",
        fix: "remove jail = false from the config (or VOLANT_JAIL)",
      };
    }
    if (ctx.uid !== 0) {
      return {
        status: "warn",
        detail: `the jail needs volantd to run as root (this is uid ${ctx.uid})`,
        fix: "run volantd (and this check) as root",
      };
    }
    const lacks = await missing();
    if (lacks.length > 0) {
      return {
        status: "warn",
        detail: `jail without: ${lacks.map((l) => l.what).join("; ")}`,
        fix: lacks.map((l) => l.fix).join("; "),
      };
    }
    const cg = await detectCgroups();
    const version = "reason" in cg ? "none" : `v${cg.version}`;
    return {
      status: "ok",
      detail: `user ${ctx.config.vmmUser}, seccomp, cgroup ${version} ` +
        `(memory = guest RAM + ${ctx.config.vmmMemoryOverheadMb} MiB), private mount namespace`,
    };
  },
};
