/**
 * `volar vms snapshot VM [--name S] [--stop]`, `volar vms restore VM --from S`,
 * `volar vms snapshots list VM`, `volar vms snapshots delete VM S`.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { SnapshotRecord } from "../manifest/snapshot.ts";
import { stringFlag } from "./args.ts";
import type { Command } from "./command.ts";
import { json, table } from "./format.ts";

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)}M`;
}

/** The snapshots table: NAME VM AFTER SIZE PAUSE CREATED. */
export function snapshotTable(items: SnapshotRecord[]): string {
  return table(
    ["NAME", "VM", "AFTER", "SIZE", "PAUSE", "CREATED"],
    items.map((s) => [s.name, s.vm, s.after, mib(s.size_bytes), `${s.pause_ms}ms`, s.created_at]),
  );
}

export const vmsSnapshot: Command = {
  path: ["vms", "snapshot"],
  summary:
    "save a running VM's memory, devices and disk overlays (resumes it, or stops with --stop)",
  args: "NAME",
  example: "volar vms snapshot web --name before-upgrade",
  options: {
    name: { type: "string", value: "S", help: "snapshot name (default: s-<UTC time>)" },
    stop: { type: "boolean", help: "stop the VM after the save instead of resuming it" },
  },
  arity: [1, 1],
  async run(ctx) {
    const vm = ctx.positionals[0];
    const s = await ctx.client().snapshots.create(vm, {
      name: stringFlag(ctx.values, "name"),
      stop: ctx.values.stop === true ? true : undefined,
    });
    if (ctx.output === "json") ctx.io.out(json(s));
    else {
      ctx.io.out(
        `snapshot ${s.name} of vm ${vm} saved (${mib(s.size_bytes)}, paused ${s.pause_ms} ms, ` +
          `vm ${s.after})`,
      );
    }
    return 0;
  },
};

export const vmsRestore: Command = {
  path: ["vms", "restore"],
  summary: "restore a stopped VM from one of its snapshots (same IP, MAC, memory, uptime)",
  args: "NAME",
  example: "volar vms restore web --from before-upgrade",
  options: { from: { type: "string", value: "S", help: "the snapshot to restore (required)" } },
  arity: [1, 1],
  async run(ctx) {
    const from = stringFlag(ctx.values, "from");
    if (from === undefined) {
      throw new VolantError("usage", "--from is required (see volar vms restore --help)", {
        problems: [{ field: "--from", message: "is required" }],
      });
    }
    const vm = await ctx.client().snapshots.restore(ctx.positionals[0], from);
    if (ctx.output === "json") ctx.io.out(json(vm));
    else ctx.io.out(`vm ${vm.name} ${vm.state} from snapshot ${from} (pid ${vm.pid}, ip ${vm.ip})`);
    return 0;
  },
};

export const vmsSnapshotsList: Command = {
  path: ["vms", "snapshots", "list"],
  summary: "list a VM's snapshots",
  args: "NAME",
  example: "volar vms snapshots list web",
  options: {},
  arity: [1, 1],
  async run(ctx) {
    const items = await ctx.client().snapshots.list(ctx.positionals[0]);
    ctx.io.out(ctx.output === "json" ? json({ items }) : snapshotTable(items));
    return 0;
  },
};

export const vmsSnapshotsDelete: Command = {
  path: ["vms", "snapshots", "delete"],
  summary: "delete one snapshot of a VM",
  args: "NAME SNAPSHOT",
  example: "volar vms snapshots delete web before-upgrade",
  options: {},
  arity: [2, 2],
  async run(ctx) {
    const [vm, name] = ctx.positionals;
    await ctx.client().snapshots.remove(vm, name);
    if (ctx.output === "json") ctx.io.out(json({ vm, name, deleted: true }));
    else ctx.io.out(`snapshot ${name} of vm ${vm} deleted`);
    return 0;
  },
};

export const pluginsWarm: Command = {
  path: ["plugins", "warm"],
  summary: "take a plugin's ready snapshot: later creates restore clones instead of booting",
  args: "PLUGIN",
  example: "volar plugins warm caddy",
  options: { remove: { type: "boolean", help: "drop the ready snapshot (creates boot cold)" } },
  arity: [1, 1],
  async run(ctx) {
    const plugin = ctx.positionals[0];
    if (ctx.values.remove === true) {
      await ctx.client().snapshots.unwarm(plugin);
      ctx.io.out(ctx.output === "json" ? json({ plugin, warm: false }) : `plugin ${plugin}: cold`);
      return 0;
    }
    const s = await ctx.client().snapshots.warm(plugin);
    if (ctx.output === "json") ctx.io.out(json(s));
    else ctx.io.out(`plugin ${plugin} warm: ready snapshot ${mib(s.size_bytes)}`);
    return 0;
  },
};

/** The snapshot commands, in help order. */
export const SNAPSHOT_COMMANDS: Command[] = [
  vmsSnapshot,
  vmsRestore,
  vmsSnapshotsList,
  vmsSnapshotsDelete,
  pluginsWarm,
];
