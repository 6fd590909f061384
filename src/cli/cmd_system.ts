/**
 * `volar info`: the daemon's version, hypervisor and accelerator, network and counts.
 *
 * @module
 */
import type { Command } from "./command.ts";
import { json, keyValues } from "./format.ts";

export const systemInfo: Command = {
  path: ["info"],
  summary: "show volantd's version, hypervisor, network and counts",
  args: "",
  example: "volar info",
  options: {},
  arity: [0, 0],
  async run(ctx) {
    const i = await ctx.client().systemInfo();
    if (ctx.output === "json") {
      ctx.io.out(json(i));
      return 0;
    }
    const hv = i.hypervisor.available
      ? `${i.hypervisor.kind} (available)`
      : `${i.hypervisor.kind} (unavailable: ${i.hypervisor.reason ?? "unknown"})`;
    const j = i.hypervisor.jail;
    const jail = j.enabled
      ? `on: user ${j.user} (uid ${j.uid}), seccomp ${j.seccomp ? "on" : "off"}, cgroup ${
        j.cgroup ?? "none"
      }, mount namespace ${j.mount_ns ? "on" : "off"}`
      : "off";
    const states = Object.entries(i.vms.by_state).map(([s, n]) => `${s} ${n}`).join(", ");
    ctx.io.out(keyValues([
      ["Version", i.version],
      ["Started", `${i.started_at} (up ${Math.round(i.uptime_s)} s)`],
      ["State dir", i.state_dir],
      ["Hypervisor", hv],
      ...(i.hypervisor.accel
        ? [[
          "Accelerator",
          `${i.hypervisor.accel.accel} (${i.hypervisor.accel.mode}: ${i.hypervisor.accel.reason})`,
        ] as [string, string]]
        : []),
      ["VMM jail", [jail, ...j.notes].join("; ")],
      ["Bridge", `${i.network.bridge} ${i.network.subnet} gateway ${i.network.gateway}`],
      [
        "IP pool",
        `${i.network.pool_start}-${i.network.pool_end} (${i.network.leased}/${i.network.capacity} leased)`,
      ],
      ["VMs", `${i.vms.total}${states ? ` (${states})` : ""}`],
      ["Plugins", `${i.plugins.total} (${i.plugins.enabled} enabled)`],
    ]));
    return 0;
  },
};
