/**
 * `volar deployments create|list|show|scale|update|rollback|delete`.
 *
 * @module
 */
import { VolantError } from "../errors.ts";
import type { DeploymentConfig, DeploymentRecord } from "../manifest/deployment.ts";
import { MAX_REPLICAS } from "../manifest/values.ts";
import { intFlag, stringFlag } from "./args.ts";
import type { Command, CommandContext, OptionSpec } from "./command.ts";
import { waitForDeployment } from "./deployment_wait.ts";
import { json, keyValues, table } from "./format.ts";

const WAIT: Record<string, OptionSpec> = {
  wait: { type: "boolean", help: "block until every replica is ready (progress on stderr)" },
  timeout: {
    type: "string",
    value: "SECONDS",
    help: "give up waiting after this long (default 300); exit 8",
  },
};

const CONFIG_FLAGS: Record<string, OptionSpec> = {
  config: {
    type: "string",
    short: "c",
    value: "FILE",
    help: 'JSON config: { "plugin": ..., "resources": {...}, "env": {...}, ... }',
  },
  plugin: { type: "string", short: "p", value: "P", help: "plugin (overrides the file's)" },
  cpu: { type: "string", value: "N", help: "vCPUs per replica, 1-64 (overrides the file's)" },
  memory: { type: "string", value: "MB", help: "memory per replica in MiB (overrides the file's)" },
  "idle-timeout": {
    type: "string",
    value: "S",
    help: "scale to zero: park a replica after S seconds without a request, 1-86400",
  },
};

function usage(message: string, field: string): VolantError {
  return new VolantError("usage", message, { problems: [{ field, message }] });
}

/** The config from `--config FILE` plus `--plugin/--cpu/--memory`. */
export async function configFromFlags(
  values: CommandContext["values"],
  required: boolean,
): Promise<DeploymentConfig | undefined> {
  const file = stringFlag(values, "config");
  let config: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      throw usage(`--config ${file}: cannot read: ${(error as Error).message}`, "--config");
    }
    try {
      config = JSON.parse(text);
    } catch (error) {
      throw usage(`--config ${file}: not JSON: ${(error as Error).message}`, "--config");
    }
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
      throw usage(`--config ${file}: must hold a JSON object`, "--config");
    }
  }
  const plugin = stringFlag(values, "plugin");
  const cpu = intFlag(values, "cpu", 1, 64);
  const memory = intFlag(values, "memory", 64, 262144);
  const idle = intFlag(values, "idle-timeout", 1, 86_400);
  if (plugin !== undefined) config.plugin = plugin;
  if (idle !== undefined) config.idle_timeout_s = idle;
  if (cpu !== undefined || memory !== undefined) {
    const resources = { ...(config.resources as Record<string, unknown> ?? {}) };
    if (cpu !== undefined) resources.cpu_cores = cpu;
    if (memory !== undefined) resources.memory_mb = memory;
    config.resources = resources;
  }
  if (
    file === undefined && plugin === undefined && cpu === undefined && memory === undefined &&
    idle === undefined
  ) {
    if (required) throw usage("give --config FILE or --plugin P", "--config");
    return undefined;
  }
  // The daemon validates the whole config and names any bad field.
  return config as DeploymentConfig;
}

function timeoutMs(ctx: CommandContext): number {
  return (intFlag(ctx.values, "timeout", 1, 86_400) ?? 300) * 1000;
}

/** Prints the record (or waits first with --wait). */
async function finish(ctx: CommandContext, d: DeploymentRecord, verb: string): Promise<number> {
  let final = d;
  if (ctx.values.wait === true) {
    const done = await waitForDeployment(ctx.client().deployments, d.name, ctx.io, {
      timeoutMs: timeoutMs(ctx),
      signal: ctx.signal,
    });
    if (done) final = done;
  }
  if (ctx.output === "json") ctx.io.out(json(final));
  else {
    ctx.io.out(
      `deployment ${final.name} ${verb}: ${final.ready}/${final.replicas} ready, revision ${final.revision}` +
        (ctx.values.wait === true ? "" : ` (follow with: volar deployments show ${final.name})`),
    );
  }
  return 0;
}

export function deploymentTable(items: DeploymentRecord[]): string {
  return table(
    ["NAME", "PLUGIN", "REPLICAS", "READY", "CURRENT", "UPDATED", "REVISION", "ROLLOUT"],
    items.map((d) => [
      d.name,
      d.config.plugin,
      d.replicas,
      d.ready,
      d.current,
      d.updated,
      d.revision,
      d.rollout,
    ]),
  );
}

export function deploymentDetails(d: DeploymentRecord): string {
  const head = keyValues([
    ["Name", d.name],
    ["Plugin", d.config.plugin],
    [
      "Replicas",
      `${d.replicas} desired, ${d.current} current, ${d.ready} ready, ${d.updated} updated`,
    ],
    ["Revision", `${d.revision} (stable ${d.stable_revision})`],
    ["Rollout", d.rollout],
    [
      "Strategy",
      `max_unavailable ${d.strategy.max_unavailable}, max_surge ${d.strategy.max_surge}`,
    ],
    ["Config", JSON.stringify(d.config)],
    ["Created", d.created_at],
    ["Updated", d.updated_at],
  ]);
  const replicas = d.replica_status.length === 0 ? "No replicas." : table(
    ["REPLICA", "STATE", "HEALTH", "IP", "REVISION", "READY"],
    d.replica_status.map((r) => [r.name, r.state, r.health, r.ip, r.revision, r.ready]),
  );
  const conditions = d.conditions.length === 0 ? "No conditions." : table(
    ["CONDITION", "STATUS", "REASON", "SINCE", "MESSAGE"],
    d.conditions.map((c) => [c.type, c.status, c.reason, c.since, c.message]),
  );
  return `${head}\n\n${replicas}\n\n${conditions}`;
}

export const deploymentsCreate: Command = {
  path: ["deployments", "create"],
  summary: "create a deployment: N replicas <name>-<n> of one config",
  args: "NAME",
  description: "The config file holds a plugin plus what `vms create` accepts:\n" +
    '  { "plugin": "caddy", "resources": { "cpu_cores": 2, "memory_mb": 512 },\n' +
    '    "kernel_cmdline": "...", "machine": "microvm", "restart_policy": "never",\n' +
    '    "idle_timeout_s": 300, "env": { "KEY": "value" } }\n' +
    "--plugin/--cpu/--memory/--idle-timeout override it (or replace it entirely). Replicas\n" +
    "come up in the background; --wait blocks until all are ready. With an idle timeout a\n" +
    "replica without requests is parked (snapshot + stop) and counts as ready; the next\n" +
    "request through the agent proxy restores it and is held until it answers.",
  example: "volar deployments create web-cluster --config web-config.json --replicas 5",
  options: {
    ...CONFIG_FLAGS,
    replicas: {
      type: "string",
      short: "r",
      value: "N",
      help: `replicas, 0-${MAX_REPLICAS} (required)`,
    },
    "max-unavailable": {
      type: "string",
      value: "N",
      help: "rolling update: ready replicas that may be missing (default 0)",
    },
    "max-surge": {
      type: "string",
      value: "N",
      help: "rolling update: extra replicas allowed (default 1)",
    },
    ...WAIT,
  },
  arity: [1, 1],
  async run(ctx) {
    const replicas = intFlag(ctx.values, "replicas", 0, MAX_REPLICAS);
    if (replicas === undefined) throw usage("--replicas N is required", "--replicas");
    const config = (await configFromFlags(ctx.values, true))!;
    const maxUnavailable = intFlag(ctx.values, "max-unavailable", 0, MAX_REPLICAS);
    const maxSurge = intFlag(ctx.values, "max-surge", 0, MAX_REPLICAS);
    const d = await ctx.client().deployments.create({
      name: ctx.positionals[0],
      replicas,
      config,
      ...(maxUnavailable !== undefined || maxSurge !== undefined
        ? { strategy: { max_unavailable: maxUnavailable ?? 0, max_surge: maxSurge ?? 1 } }
        : {}),
    });
    return await finish(ctx, d, "created");
  },
};

export const deploymentsList: Command = {
  path: ["deployments", "list"],
  summary: "list deployments",
  args: "",
  example: "volar deployments list -o json",
  options: {},
  arity: [0, 0],
  async run(ctx) {
    const items = await ctx.client().deployments.list();
    if (ctx.output === "json") ctx.io.out(json(items));
    else ctx.io.out(items.length === 0 ? "No deployments." : deploymentTable(items));
    return 0;
  },
};

export const deploymentsShow: Command = {
  path: ["deployments", "show"],
  summary: "show a deployment: counts, each replica's state, health and IP, conditions",
  args: "NAME",
  example: "volar deployments show web-cluster",
  options: {},
  arity: [1, 1],
  async run(ctx) {
    const d = await ctx.client().deployments.get(ctx.positionals[0]);
    ctx.io.out(ctx.output === "json" ? json(d) : deploymentDetails(d));
    return 0;
  },
};

export const deploymentsScale: Command = {
  path: ["deployments", "scale"],
  summary: "change the number of replicas (up: lowest free numbers; down: highest go)",
  args: "NAME",
  example: "volar deployments scale web-cluster --replicas 10 --wait",
  options: {
    replicas: {
      type: "string",
      short: "r",
      value: "N",
      help: `replicas, 0-${MAX_REPLICAS} (required)`,
    },
    ...WAIT,
  },
  arity: [1, 1],
  async run(ctx) {
    const replicas = intFlag(ctx.values, "replicas", 0, MAX_REPLICAS);
    if (replicas === undefined) throw usage("--replicas N is required", "--replicas");
    const d = await ctx.client().deployments.patch(ctx.positionals[0], { replicas });
    return await finish(ctx, d, "scaled");
  },
};

export const deploymentsUpdate: Command = {
  path: ["deployments", "update"],
  summary: "replace the config: a rolling update (new replica ready before an old one goes)",
  args: "NAME",
  example: "volar deployments update web-cluster --config web-config.json --wait",
  options: { ...CONFIG_FLAGS, ...WAIT },
  arity: [1, 1],
  async run(ctx) {
    const config = (await configFromFlags(ctx.values, true))!;
    const d = await ctx.client().deployments.patch(ctx.positionals[0], { config });
    return await finish(ctx, d, "updated");
  },
};

export const deploymentsRollback: Command = {
  path: ["deployments", "rollback"],
  summary: "roll back to the config before the current one (rolls like an update)",
  args: "NAME",
  example: "volar deployments rollback web-cluster --wait",
  options: WAIT,
  arity: [1, 1],
  async run(ctx) {
    const d = await ctx.client().deployments.rollback(ctx.positionals[0]);
    return await finish(ctx, d, "rolled back");
  },
};

export const deploymentsDelete: Command = {
  path: ["deployments", "delete"],
  summary: "delete a deployment and all its replicas (their IPs, TAPs and disks)",
  args: "NAME",
  example: "volar deployments delete web-cluster --wait",
  options: WAIT,
  arity: [1, 1],
  async run(ctx) {
    const name = ctx.positionals[0];
    const d = await ctx.client().deployments.delete(name);
    if (ctx.values.wait === true) {
      await waitForDeployment(ctx.client().deployments, name, ctx.io, {
        timeoutMs: timeoutMs(ctx),
        signal: ctx.signal,
        gone: true,
      });
      if (ctx.output === "json") ctx.io.out(json({ name, deleted: true }));
      else ctx.io.out(`deployment ${name} deleted`);
      return 0;
    }
    if (ctx.output === "json") ctx.io.out(json(d));
    else ctx.io.out(`deployment ${name} is being deleted (${d.current} replicas left)`);
    return 0;
  },
};

export const DEPLOYMENT_COMMANDS: Command[] = [
  deploymentsList,
  deploymentsShow,
  deploymentsCreate,
  deploymentsScale,
  deploymentsUpdate,
  deploymentsRollback,
  deploymentsDelete,
];
