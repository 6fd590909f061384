/**
 * `volar vms list|show|create|start|stop|restart|delete`.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import { readDocFlag } from "./user_data.ts";
import type { VmRecord } from "../manifest/api.ts";
import { MACHINES, RESTART_POLICIES, VM_SORT_KEYS, VM_STATES } from "../manifest/values.ts";
import { choiceFlag, intFlag, listFlag, stringFlag } from "./args.ts";
import type { Command, CommandContext, OptionSpec } from "./command.ts";
import { json, keyValues, table } from "./format.ts";

/** The vms table: NAME STATE PLUGIN IP MAC CPU MEM HEALTH. */
export function vmTable(items: VmRecord[]): string {
  return table(
    ["NAME", "STATE", "PLUGIN", "IP", "MAC", "CPU", "MEM", "HEALTH"],
    items.map((v) => [
      v.name,
      v.state,
      v.plugin,
      v.ip,
      v.mac,
      v.cpu_cores,
      `${v.memory_mb}M`,
      v.health,
    ]),
  );
}

/** `vms show` in table mode. */
export function vmDetails(v: VmRecord): string {
  return keyValues([
    ["Name", v.name],
    ["State", v.state],
    ["Health", v.health],
    ["Plugin", v.plugin],
    ["Runtime", v.runtime],
    ["IP", v.ip],
    ["MAC", v.mac],
    ["TAP", v.tap],
    ["CPU", v.cpu_cores],
    ["Memory", `${v.memory_mb} MiB`],
    ["Machine", v.machine],
    ["Restart", `${v.restart_policy} (${v.restarts} automatic restarts)`],
    ["PID", v.pid],
    ["Kernel args", v.kernel_cmdline],
    ["Serial socket", v.serial_socket],
    ["Last error", v.last_error],
    ["Created", v.created_at],
    ["Updated", v.updated_at],
  ]);
}

export const vmsList: Command = {
  path: ["vms", "list"],
  summary: "list VMs (filters, sorting, pagination)",
  args: "",
  example: "volar vms list --state running,crashed --sort name",
  options: {
    state: {
      type: "string",
      multiple: true,
      value: "S",
      help: `only these states (repeat or comma-separate: ${VM_STATES.join("|")})`,
    },
    plugin: { type: "string", value: "P", help: "only VMs of this plugin" },
    query: {
      type: "string",
      short: "q",
      value: "TEXT",
      help: "substring of name, IP or plugin (case-insensitive)",
    },
    limit: { type: "string", value: "N", help: "page size, 1-1000 (default 100)" },
    offset: { type: "string", value: "N", help: "skip N matches (default 0)" },
    sort: { type: "string", value: "KEY", help: `sort key: ${VM_SORT_KEYS.join("|")}` },
    order: { type: "string", value: "asc|desc", help: "sort order (default asc)" },
  },
  arity: [0, 0],
  async run(ctx) {
    const v = ctx.values;
    const states = listFlag(v, "state");
    const page = await ctx.client().listVms({
      state: states.length > 0 ? states.join(",") : undefined,
      plugin: stringFlag(v, "plugin"),
      q: stringFlag(v, "query"),
      limit: intFlag(v, "limit", 1, 1000),
      offset: intFlag(v, "offset", 0, Number.MAX_SAFE_INTEGER),
      sort: choiceFlag(v, "sort", VM_SORT_KEYS),
      order: choiceFlag(v, "order", ["asc", "desc"] as const),
    });
    if (ctx.output === "json") {
      ctx.io.out(json(page.items));
      return 0;
    }
    if (page.total === 0) {
      ctx.io.out("No VMs found.");
      return 0;
    }
    ctx.io.out(vmTable(page.items));
    if (page.offset + page.items.length < page.total || page.offset > 0) {
      const first = page.items.length === 0 ? page.offset : page.offset + 1;
      ctx.io.err(
        `(${first}-${page.offset + page.items.length} of ${page.total}; use --offset/--limit)`,
      );
    }
    return 0;
  },
};

export const vmsShow: Command = {
  path: ["vms", "show"],
  summary: "show one VM",
  args: "NAME",
  example: "volar vms show web -o json",
  options: {},
  arity: [1, 1],
  async run(ctx) {
    const vm = await ctx.client().getVm(ctx.positionals[0]);
    ctx.io.out(ctx.output === "json" ? json(vm) : vmDetails(vm));
    return 0;
  },
};

export const vmsCreate: Command = {
  path: ["vms", "create"],
  summary: "create a VM from an installed, enabled plugin (and boot it)",
  args: "NAME",
  description: "NAME is a DNS label. CPU and memory default to the plugin manifest's\n" +
    "resources. The VM boots right away unless --no-start. --user-data/--meta-data give\n" +
    "this VM its own cloud-init documents (a NoCloud cidata seed disk).",
  example: "volar vms create web --plugin caddy --cpu 2 --memory 512",
  options: {
    plugin: { type: "string", short: "p", value: "P", help: "plugin to run (required)" },
    cpu: { type: "string", value: "N", help: "vCPUs, 1-64 (default: the manifest's)" },
    memory: { type: "string", value: "MB", help: "memory in MiB, 64-262144" },
    "kernel-cmdline": {
      type: "string",
      value: "S",
      help: "extra kernel arguments appended after Volant's",
    },
    machine: { type: "string", value: "microvm|q35", help: "QEMU machine type" },
    restart: {
      type: "string",
      value: "POLICY",
      help: "restart policy: never|on-failure|always",
    },
    "no-start": { type: "boolean", help: "create only; leave the VM in state created" },
    "idle-timeout": {
      type: "string",
      value: "SECONDS",
      help:
        "scale to zero: snapshot and stop after this long idle; the next agent request restores",
    },
    "user-data": {
      type: "string",
      value: "FILE",
      help: "cloud-init user-data for this VM (replaces the manifest's; - = stdin)",
    },
    "meta-data": {
      type: "string",
      value: "FILE",
      help: "cloud-init meta-data for this VM (instance-id and hostname are added if absent)",
    },
  },
  arity: [1, 1],
  async run(ctx) {
    const v = ctx.values;
    const cloudInit: Record<string, { content: string }> = {};
    for (const [flag, doc] of [["user-data", "user_data"], ["meta-data", "meta_data"]]) {
      const arg = stringFlag(v, flag);
      if (arg !== undefined) {
        cloudInit[doc] = { content: await readDocFlag(flag, arg, ctx.io.cwd(), ctx.io.stdin) };
      }
    }
    const plugin = stringFlag(v, "plugin");
    if (plugin === undefined) {
      throw new VolantError("usage", "--plugin is required (see volar vms create --help)", {
        problems: [{ field: "--plugin", message: "is required (see volar vms create --help)" }],
      });
    }
    const vm = await ctx.client().createVm({
      name: ctx.positionals[0],
      plugin,
      cpu_cores: intFlag(v, "cpu", 1, 64),
      memory_mb: intFlag(v, "memory", 64, 262144),
      kernel_cmdline: stringFlag(v, "kernel-cmdline"),
      machine: choiceFlag(v, "machine", MACHINES),
      restart_policy: choiceFlag(v, "restart", RESTART_POLICIES),
      start: v["no-start"] !== true,
      idle_timeout_s: intFlag(v, "idle-timeout", 1, 86_400),
      ...(Object.keys(cloudInit).length > 0 ? { cloud_init: cloudInit } : {}),
    });
    if (ctx.output === "json") ctx.io.out(json(vm));
    else ctx.io.out(`vm ${vm.name} created (state ${vm.state}, ip ${vm.ip}, mac ${vm.mac})`);
    return 0;
  },
};

const GRACE: Record<string, OptionSpec> = {
  grace: {
    type: "string",
    value: "SECONDS",
    help: "graceful shutdown period before the VMM is killed (default: the daemon's)",
  },
};

function graceMs(ctx: CommandContext): number | undefined {
  const s = intFlag(ctx.values, "grace", 0, 600);
  return s === undefined ? undefined : s * 1000;
}

function action(verb: "start" | "stop" | "restart", summary: string): Command {
  return {
    path: ["vms", verb],
    summary,
    args: "NAME",
    example: `volar vms ${verb} web`,
    options: verb === "start" ? {} : GRACE,
    arity: [1, 1],
    async run(ctx) {
      const c = ctx.client();
      const name = ctx.positionals[0];
      const vm = verb === "start"
        ? await c.startVm(name)
        : verb === "stop"
        ? await c.stopVm(name, { graceMs: graceMs(ctx) })
        : await c.restartVm(name, { graceMs: graceMs(ctx) });
      if (ctx.output === "json") ctx.io.out(json(vm));
      else {
        const pid = vm.pid !== undefined ? `, pid ${vm.pid}` : "";
        ctx.io.out(`vm ${vm.name} ${vm.state}${pid}`);
      }
      return 0;
    },
  };
}

export const vmsStart = action("start", "boot a created, stopped or crashed VM");
export const vmsStop = action("stop", "shut a VM down (graceful, then killed after the grace)");
export const vmsRestart = action("restart", "stop then start a VM");

export const vmsDelete: Command = {
  path: ["vms", "delete"],
  summary: "stop a VM and delete it (releases its IP, TAP and disk overlay)",
  args: "NAME",
  example: "volar vms delete web",
  options: GRACE,
  arity: [1, 1],
  async run(ctx) {
    const name = ctx.positionals[0];
    await ctx.client().deleteVm(name, { graceMs: graceMs(ctx) });
    if (ctx.output === "json") ctx.io.out(json({ name, deleted: true }));
    else ctx.io.out(`vm ${name} deleted`);
    return 0;
  },
};
